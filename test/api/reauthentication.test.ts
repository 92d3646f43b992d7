import { randomUUID } from 'node:crypto';
import { clinicWithAdmin, login, STRONG_PASSWORD } from '../harness/clinic';
import { call } from '../harness/http';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * A live session is not enough to change how an account signs in: adding or removing a passkey
 * needs a password or passkey proved within the last 5 minutes. Sessions are aged by rewriting
 * their proof time, never by waiting.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

const ageProof = (token: string, seconds: number) =>
  stack.database.ownerDb('sessions').whereNull('revoked_at').update({ verified_at: stack.database.ownerDb.raw(`now() - make_interval(secs => ?)`, [seconds]) }).then(() => token);

describe('re-authentication for passkey changes', () => {
  it('refuses to add or remove a passkey with a stale proof (403 reauthentication_required) until the password is confirmed', async () => {
    const { clinic } = await clinicWithAdmin(stack);
    const token = (await login(stack, clinic, 'admin', STRONG_PASSWORD)).body.token as string;
    // Fresh from the login: allowed.
    expect((await call(stack.url, 'POST', '/v1/auth/webauthn/registration/options', { token })).status).toBe(200);

    await ageProof(token, 301);
    const add = await call(stack.url, 'POST', '/v1/auth/webauthn/registration/options', { token });
    expect([add.status, add.body.code]).toEqual([403, 'reauthentication_required']);
    const remove = await call(stack.url, 'DELETE', `/v1/auth/webauthn/credentials/${randomUUID()}`, { token });
    expect([remove.status, remove.body.code]).toEqual([403, 'reauthentication_required']);
    // The session itself still works for everything else.
    expect((await call(stack.url, 'GET', '/v1/me', { token })).status).toBe(200);

    const wrong = await call(stack.url, 'POST', '/v1/auth/reauthenticate', { token, json: { password: 'not-my-password' } });
    expect([wrong.status, wrong.body.code]).toEqual([400, 'invalid_current_password']);
    expect((await call(stack.url, 'POST', '/v1/auth/webauthn/registration/options', { token })).status).toBe(403);

    expect((await call(stack.url, 'POST', '/v1/auth/reauthenticate', { token, json: { password: STRONG_PASSWORD } })).status).toBe(204);
    expect((await call(stack.url, 'POST', '/v1/auth/webauthn/registration/options', { token })).status).toBe(200);
    // Past the proof, removal reaches its own checks (this passkey does not exist).
    expect((await call(stack.url, 'DELETE', `/v1/auth/webauthn/credentials/${randomUUID()}`, { token })).status).toBe(404);

    const log = await stack.database.ownerDb('audit_events').where({ tenant_id: clinic.id, action: 'session.reauthenticate' }).orderBy('id');
    expect(log.map((e: { outcome: string }) => e.outcome)).toEqual(['failed', 'success']);
  });

  it('counts wrong re-authentication passwords toward the lockout', async () => {
    const { clinic, adminId } = await clinicWithAdmin(stack);
    const token = (await login(stack, clinic, 'admin', STRONG_PASSWORD)).body.token as string;
    const codes = [];
    for (let i = 0; i < 5; i += 1) codes.push((await call(stack.url, 'POST', '/v1/auth/reauthenticate', { token, json: { password: `wrong-${i}` } })).body.code);
    expect(codes).toEqual([...Array(4).fill('invalid_current_password'), 'account_locked']);
    const right = await call(stack.url, 'POST', '/v1/auth/reauthenticate', { token, json: { password: STRONG_PASSWORD } });
    expect([right.status, right.body.code]).toEqual([423, 'account_locked']);
    expect((await stack.database.ownerDb('accounts').where({ id: adminId }).first()).lockouts).toBe(1);
  });
});
