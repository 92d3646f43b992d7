import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { fetchLocalEmails } from '../../lib/local-ses';
import { operatorLockoutWorkflowId } from '../../temporal/workflow-ids';
import { eventually } from '../harness/clinic';
import { recordHistory } from '../harness/history';
import { call } from '../harness/http';
import { createOperator } from '../harness/operators';
import { softwarePasskey } from '../harness/passkey';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * Operator sessions and the defences around sign-in (README: Operators): configured lifetimes,
 * idle and absolute expiry, roles read on every request, lockout and throttles like clinic
 * accounts, and a reset that ends everything. Passkeys are enrolled with a software
 * authenticator here; the browser test (test/e2e/operator-passkeys.test.ts) does the rest.
 */
let stack: TestStack;
const ORIGIN = 'http://localhost:3000';
const PASSWORD = 'Operator-2026-keys!';

beforeAll(async () => {
  stack = await startTestStack({ OPERATOR_SESSION_MAX_SECONDS: '7200', LOGIN_FAILURES_PER_IP: '1000', LOGIN_FAILURES_PER_ACCOUNT: '8' });
});
afterAll(() => stack?.stop());

const login = (email: string, password: string) => call(stack.operatorUrl, 'POST', '/v1/operator/auth/login', { json: { email, password } });
const me = (token: string) => call(stack.operatorUrl, 'GET', '/v1/operator/me', { token });

/** An operator through first login, password change and passkey enrolment: an active session token. */
async function activeOperator(email: string, roles: string[]) {
  const { id, initialPassword } = await createOperator(stack, roles, email);
  const first = await login(email, initialPassword);
  expect(first.body.state).toBe('password_change_required');
  const changed = await call(stack.operatorUrl, 'POST', '/v1/operator/me/password', { token: first.body.token, json: { currentPassword: initialPassword, newPassword: PASSWORD } });
  expect(changed.body.state).toBe('second_factor_enrollment_required');
  const options = await call(stack.operatorUrl, 'POST', '/v1/operator/auth/passkeys/registration/options', { token: first.body.token });
  const passkey = softwarePasskey({ origin: ORIGIN, rpId: 'localhost' });
  const enrolled = await call(stack.operatorUrl, 'POST', '/v1/operator/auth/passkeys/registration/verify', { token: first.body.token, json: { response: passkey.registrationResponse(options.body.challenge) } });
  expect(enrolled.status).toBe(201);
  return { id, token: enrolled.body.token as string, passkey };
}

describe('operator sessions', () => {
  it('lasts OPERATOR_SESSION_MAX_SECONDS at most, ends when idle, and reads roles on every request', async () => {
    const { id, token } = await activeOperator('tanaka@forclinic.example', ['support']);
    const pre = await login('tanaka@forclinic.example', PASSWORD);
    expect(pre.body.state).toBe('second_factor_required');
    const lifetime = (Date.parse(pre.body.expiresAt) - Date.now()) / 1000;
    expect(lifetime).toBeGreaterThan(7200 - 60);
    expect(lifetime).toBeLessThanOrEqual(7200);

    expect((await me(token)).body.roles).toEqual(['support']);
    const patched = await call(stack.operatorUrl, 'PATCH', `/v1/operator/operators/${id}`, { token: stack.operatorToken, json: { roles: ['viewer', 'security'] } });
    expect(patched.status).toBe(200);
    expect((await me(token)).body.roles).toEqual(['viewer', 'security']);

    const db = stack.database.ownerDb;
    await db('operator_sessions').where({ operatorId: id, state: 'second_factor_required' }).update({ absoluteExpiresAt: db.raw(`now() - interval '1 second'`) });
    expect((await me(pre.body.token)).status).toBe(401);
    await db('operator_sessions').where({ operatorId: id, state: 'active' }).update({ idleExpiresAt: db.raw(`now() - interval '1 second'`) });
    expect((await me(token)).status).toBe(401);
  });

  it('locks an operator after five wrong passwords, the right one included, and tells them and security once', async () => {
    const email = 'kobayashi@forclinic.example';
    const { id } = await activeOperator(email, ['viewer']);
    for (let i = 1; i <= 4; i += 1) expect((await login(email, `Wrong-password-${i}!`)).status).toBe(401);
    const fifth = await login(email, 'Wrong-password-5!');
    expect([fifth.status, fifth.body.code]).toEqual([423, 'account_locked']);
    const right = await login(email, PASSWORD);
    expect([right.status, right.body.code]).toEqual([423, 'account_locked']);
    const list = await call(stack.operatorUrl, 'GET', '/v1/operator/operators', { token: stack.operatorToken });
    expect(list.body.items.find((o: { email: string }) => o.email === email)).toMatchObject({ locked: true });
    const events = await stack.database.ownerDb('security_events').where({ kind: 'operator_login' });
    expect(events.reduce((n: number, e: { attempts: number }) => n + e.attempts, 0)).toBeGreaterThanOrEqual(6);

    const handle = stack.temporal.client.workflow.getHandle(operatorLockoutWorkflowId(id, 1));
    expect(await handle.result()).toEqual({ outcome: 'mailed', mailed: 2 });
    if (process.env.RECORD_HISTORIES) await writeFile(path.join(__dirname, '..', 'histories', 'operator-lockout.json'), historyToJSON(await handle.fetchHistory()));
    const mails = (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.subject.includes('operator account was locked') && m.body.text!.includes(email));
    expect(mails.map((m) => m.destination.to[0]).sort()).toEqual([email, 'security-team@forclinic.example']);
  });

  it('refuses an operator address no mail can reach, and tells security of a lockout even when the operator\'s own address refuses mail', async () => {
    const refused = await call(stack.operatorUrl, 'POST', '/v1/operator/operators', { token: stack.operatorToken, json: { email: 'op2@b-.jp', name: 'Op', roles: ['viewer'] } });
    expect([refused.status, refused.body.code]).toEqual([400, 'validation_failed']);
    // One stored before addresses were checked (or one SES refuses for its own reasons).
    const { id } = await activeOperator('unreachable@forclinic.example', ['viewer']);
    await stack.database.ownerDb('operators').where({ id }).update({ email: 'unreachable@b-.jp' });
    for (let i = 1; i <= 5; i += 1) await login('unreachable@b-.jp', `Wrong-password-${i}!`);
    // Started after the lockout's commit (outbox): resultOf waits for it, sending it now if it is still pending.
    expect(await stack.resultOf(operatorLockoutWorkflowId(id, 1))).toEqual({ outcome: 'mailed', mailed: 1 });
    const mails = (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.subject.includes('operator account was locked') && m.body.text!.includes('unreachable@b-.jp'));
    expect(mails.map((m) => m.destination.to[0])).toEqual(['security-team@forclinic.example']);
  });

  it('answers an address without an operator exactly like one: locked after five failures', async () => {
    for (let i = 1; i <= 4; i += 1) expect((await login('ghost@forclinic.example', `Guess-${i}-password!`)).status).toBe(401);
    const fifth = await login('ghost@forclinic.example', 'Guess-5-password!');
    expect([fifth.status, fifth.body.code]).toEqual([423, 'account_locked']);
    expect((await login('ghost@forclinic.example', PASSWORD)).status).toBe(423);
  });

  it('throttles failed logins per e-mail address (LOGIN_FAILURES_PER_ACCOUNT), whether or not it exists', async () => {
    const strict = await stack.startExtraApi({ PORT: '0', LOGIN_FAILURES_PER_ACCOUNT: '3' });
    const attempt = () => call(strict.operatorUrl, 'POST', '/v1/operator/auth/login', { json: { email: 'nobody@forclinic.example', password: 'Guess-password-1!' } });
    for (let i = 0; i < 3; i += 1) expect((await attempt()).status).toBe(401);
    const throttled = await attempt();
    expect([throttled.status, throttled.body.code]).toEqual([429, 'rate_limited']);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('a reset ends the sessions, removes the passkeys and asks for a new password and passkey', async () => {
    const email = 'ito@forclinic.example';
    const { id, token } = await activeOperator(email, ['security']);
    const reset = await call(stack.operatorUrl, 'POST', `/v1/operator/operators/${id}/reset`, { token: stack.operatorToken });
    expect(reset.status).toBe(200);
    expect((await me(token)).status).toBe(401);
    expect(await stack.database.ownerDb('operator_passkeys').where({ operatorId: id })).toHaveLength(0);
    expect((await login(email, PASSWORD)).status).toBe(401);
    const again = await login(email, reset.body.initialPassword);
    expect(again.body.state).toBe('password_change_required');
    const reused = await call(stack.operatorUrl, 'POST', '/v1/operator/me/password', { token: again.body.token, json: { currentPassword: reset.body.initialPassword, newPassword: 'short' } });
    expect([reused.status, reused.body.code]).toEqual([400, 'password_policy']);
    const refused = await stack.database.ownerDb('platform_audit_events').where({ action: 'operator.password.change', targetId: id, outcome: 'denied' });
    expect(refused).toEqual([expect.objectContaining({ actorId: id, details: { code: 'password_policy', rules: expect.arrayContaining(['min_length']) } })]);
    const log = await stack.database.ownerDb('platform_audit_events').where({ action: 'operator.reset', targetId: id });
    expect(log).toEqual([expect.objectContaining({ actorId: 'break-glass', details: { passkeysRemoved: 1 } })]);
  });

  it('refuses a duplicate e-mail address and unknown operators', async () => {
    await createOperator(stack, ['viewer'], 'dup@forclinic.example');
    const dup = await call(stack.operatorUrl, 'POST', '/v1/operator/operators', { token: stack.operatorToken, json: { email: 'DUP@forclinic.example', name: 'Dup', roles: ['viewer'] } });
    expect([dup.status, dup.body.code]).toEqual([409, 'operator_exists']);
    const unknown = await call(stack.operatorUrl, 'PATCH', '/v1/operator/operators/00000000-0000-4000-8000-000000000000', { token: stack.operatorToken, json: { state: 'disabled' } });
    expect(unknown.status).toBe(404);
  });

  it('names the person in every platform-log entry of a login and of a break-glass use', async () => {
    const { id } = await activeOperator('named@forclinic.example', ['viewer']);
    const logins = await stack.database.ownerDb('platform_audit_events').where({ action: 'operator.login', actor_id: id });
    expect(logins.length).toBeGreaterThan(0);
    expect(logins.every((e: { actorName: string | null }) => e.actorName === 'Operator named')).toBe(true);
    const uses = await stack.database.ownerDb('platform_audit_events').where({ action: 'operator.break_glass' });
    expect(uses.length).toBeGreaterThan(0);
    expect(uses.every((e: { actorName: string | null }) => e.actorName === 'break-glass')).toBe(true);
  });

  it('a person whose proof is older than five minutes hands out no access (an operator, a role, a key, a reset, a clinic admin, an open allowlist, a lifted legal hold, a clinic\'s contract addresses, end or resumption) until their passkey proves it again; taking access away stays open', async () => {
    const { id, token, passkey } = await activeOperator('stale-admin@forclinic.example', ['platform-admin', 'support']);
    const other = await createOperator(stack, ['viewer'], 'stale-target@forclinic.example');
    await stack.database.ownerDb('operator_sessions').where({ operator_id: id }).whereNull('revoked_at').update({ verified_at: stack.database.ownerDb.raw(`now() - interval '6 minutes'`) });
    const handingOut: Array<[string, string, unknown]> = [
      ['POST', '/v1/operator/operators', { email: 'minted@forclinic.example', name: 'Minted', roles: ['platform-admin'] }],
      ['PATCH', `/v1/operator/operators/${other.id}`, { roles: ['platform-admin'] }],
      ['POST', `/v1/operator/operators/${other.id}/reset`, undefined],
      ['POST', '/v1/operator/api-keys', { name: 'minted-key', roles: ['platform-admin'], expiresInSeconds: 3600 }],
      ['POST', '/v1/operator/tenants/00000000-0000-4000-8000-000000000000/admins', { loginId: 'minted', email: 'minted@clinic.example', displayName: 'Minted' }],
      ['DELETE', '/v1/operator/tenants/00000000-0000-4000-8000-000000000000/network-allowlist', undefined],
      ['DELETE', '/v1/operator/tenants/00000000-0000-4000-8000-000000000000/legal-hold', undefined],
      ['PATCH', '/v1/operator/tenants/00000000-0000-4000-8000-000000000000', { contractEmails: ['notices@elsewhere.example'] }],
      ['PATCH', '/v1/operator/tenants/00000000-0000-4000-8000-000000000000', { contractEndsAt: '2099-01-01T00:00:00Z' }],
      ['PATCH', '/v1/operator/tenants/00000000-0000-4000-8000-000000000000', { status: 'active' }],
    ];
    for (const [method, path, json] of handingOut) {
      const res = await call(stack.operatorUrl, method, path, { token, json });
      expect([method, path, res.status, res.body.code]).toEqual([method, path, 403, 'reauthentication_required']);
    }
    expect(await stack.database.ownerDb('operators').where({ email: 'minted@forclinic.example' }).first()).toBeUndefined();
    // The platform log says why each was refused.
    const refusals = await stack.database.ownerDb('platform_audit_events').where({ actor_id: id, action: 'operator.request', outcome: 'denied' });
    expect(refusals.map((e: { details: { code?: string } }) => e.details.code)).toEqual(Array(handingOut.length).fill('reauthentication_required'));
    // Changing the password is no passkey: the session's proof stays as old as it was.
    expect((await call(stack.operatorUrl, 'POST', '/v1/operator/me/password', { token, json: { currentPassword: PASSWORD, newPassword: 'Operator-2026-keys!2' } })).status).toBe(200);
    expect((await call(stack.operatorUrl, 'POST', '/v1/operator/api-keys', { token, json: handingOut[3]![2] })).body.code).toBe('reauthentication_required');
    // Renaming and disabling take nothing out of anyone's hands: no proof asked.
    expect((await call(stack.operatorUrl, 'PATCH', `/v1/operator/operators/${other.id}`, { token, json: { name: 'Target' } })).status).toBe(200);
    expect((await call(stack.operatorUrl, 'PATCH', `/v1/operator/operators/${other.id}`, { token, json: { state: 'disabled' } })).status).toBe(200);
    expect((await call(stack.operatorUrl, 'PATCH', `/v1/operator/operators/${other.id}`, { token, json: { state: 'active' } })).body.code).toBe('reauthentication_required');
    // A clinic's name and its suspension pass the proof's check (404: there is no such clinic).
    for (const json of [{ name: 'Renamed' }, { status: 'suspended' }]) {
      expect((await call(stack.operatorUrl, 'PATCH', '/v1/operator/tenants/00000000-0000-4000-8000-000000000000', { token, json })).status).toBe(404);
    }

    const options = await call(stack.operatorUrl, 'POST', '/v1/operator/auth/passkeys/authentication/options', { token });
    const proved = await call(stack.operatorUrl, 'POST', '/v1/operator/auth/passkeys/authentication/verify', { token, json: { response: passkey.authenticationResponse(options.body.challenge) } });
    expect(proved.status).toBe(200);
    expect((await call(stack.operatorUrl, 'POST', '/v1/operator/operators', { token, json: handingOut[0]![2] })).status).toBe(201);
    expect((await call(stack.operatorUrl, 'POST', '/v1/operator/api-keys', { token, json: handingOut[3]![2] })).status).toBe(201);
  });

  it('no one gives themselves a role, nor a security key or reset without holding security; every widening and reset is mailed to security (409 own_account, 403 role_not_held); dropping one\'s own extra role stays open', async () => {
    const { id, token } = await activeOperator('self-grant@forclinic.example', ['platform-admin', 'support']);
    const grant = await call(stack.operatorUrl, 'PATCH', `/v1/operator/operators/${id}`, { token, json: { roles: ['platform-admin', 'support', 'security'] } });
    expect([grant.status, grant.body.code]).toEqual([409, 'own_account']);
    expect((await me(token)).body.roles).toEqual(['platform-admin', 'support']);
    const refused = await stack.database.ownerDb('platform_audit_events').where({ actor_id: id, action: 'operator.request' }).whereRaw(`details->>'status' = '409'`);
    expect(refused.map((e: { details: { code?: string } }) => e.details.code)).toEqual(['own_account']);
    expect((await call(stack.operatorUrl, 'PATCH', `/v1/operator/operators/${id}`, { token, json: { roles: ['platform-admin'] } })).status).toBe(200);
    // A security key made by a platform admin without it would be the same widening by another door.
    const key = (roles: string[]) => call(stack.operatorUrl, 'POST', '/v1/operator/api-keys', { token, json: { name: `self-${roles.join('-')}`, roles, expiresInSeconds: 3600 } });
    const minted = await key(['platform-admin', 'security']);
    expect([minted.status, minted.body.code, minted.body.detail]).toEqual([403, 'role_not_held', expect.stringContaining('security')]);
    expect(await stack.database.ownerDb('operator_api_keys').where({ name: 'self-platform-admin-security' }).first()).toBeUndefined();
    expect((await key(['platform-admin'])).status).toBe(201);
    // Another platform admin (here break-glass) gives it.
    expect((await call(stack.operatorUrl, 'PATCH', `/v1/operator/operators/${id}`, { token: stack.operatorToken, json: { roles: ['platform-admin', 'security'] } })).status).toBe(200);
    expect((await me(token)).body.roles).toEqual(['platform-admin', 'security']);
    // The security addresses hear of each widening, naming who gave what to whom (a second person
    // for the operator made, the key it made and the role break-glass gave); the refused ones made none.
    const notices = async () =>
      (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.destination.to[0] === 'security-team@forclinic.example' && m.subject.includes('Operator access was given') && m.body.text!.includes('self-grant@forclinic.example'));
    await eventually('the three notices are mailed', async () => (await notices()).length >= 3);
    const texts = (await notices()).map((m) => m.body.text!);
    expect(texts.find((t) => t.includes('created the operator'))).toEqual(expect.stringMatching(/break-glass \(OPERATOR_TOKEN\) created the operator .*<self-grant@forclinic\.example> \(roles: platform-admin, support\)/));
    expect(texts.find((t) => t.includes('created the API key'))).toEqual(expect.stringMatching(/self-grant@forclinic\.example> created the API key "self-platform-admin" \(roles: platform-admin\)/));
    expect(texts.find((t) => t.includes('gave roles'))).toEqual(expect.stringMatching(/break-glass \(OPERATOR_TOKEN\) gave roles to the operator .*<self-grant@forclinic\.example> \(roles: security\)/));
    expect(texts.join('\n')).not.toContain('self-platform-admin-security');
    const run = await stack.database.ownerDb('workflow_outbox').where({ workflow_type: 'operatorAccessNoticeWorkflow' }).orderBy('created_at', 'desc').first();
    const handle = stack.temporal.client.workflow.getHandle(run.workflowId);
    expect(await handle.result()).toEqual({ outcome: 'mailed', mailed: 1 });
    await recordHistory(handle, 'operator-access-notice');
    // Disabled, then brought back: every role it holds comes back, and that is said too; disabling is not.
    for (const state of ['disabled', 'active']) {
      expect((await call(stack.operatorUrl, 'PATCH', `/v1/operator/operators/${id}`, { token: stack.operatorToken, json: { state } })).status).toBe(200);
    }
    await eventually('the re-enabling is mailed', async () => (await notices()).length >= 4);
    expect((await notices()).map((m) => m.body.text!).filter((t) => t.includes('re-enabled the operator'))).toEqual([expect.stringContaining('(roles: platform-admin, security)')]);

    // Whoever resets an operator can sign in as them: a platform admin without security cannot reset one
    // who holds it (the re-attack took over a security operator so); a reset is mailed to the operator too.
    const other = await activeOperator('reset-by-admin@forclinic.example', ['platform-admin']);
    const takeover = await call(stack.operatorUrl, 'POST', `/v1/operator/operators/${id}/reset`, { token: other.token });
    expect([takeover.status, takeover.body.code]).toEqual([403, 'role_not_held']);
    // Nor round it: strip the role, reset, give it back (the third look did); nor make an operator with it.
    const strip = await call(stack.operatorUrl, 'PATCH', `/v1/operator/operators/${id}`, { token: other.token, json: { roles: ['platform-admin'] } });
    expect([strip.status, strip.body.code]).toEqual([403, 'role_not_held']);
    const puppet = await call(stack.operatorUrl, 'POST', '/v1/operator/operators', { token: other.token, json: { email: 'puppet@forclinic.example', name: 'Puppet', roles: ['security'] } });
    expect([puppet.status, puppet.body.code]).toEqual([403, 'role_not_held']);
    expect((await stack.database.ownerDb('operators').where({ id }).first()).roles).toEqual(['platform-admin', 'security']);
    // Nor by resetting someone first and waiting for a security holder to give them the role (fourth look):
    // security goes only to a password a security holder (here break-glass) issued.
    const target = (await call(stack.operatorUrl, 'POST', '/v1/operator/operators', { token: other.token, json: { email: 'promoted@forclinic.example', name: 'Promoted', roles: ['viewer'] } })).body.operator.id as string;
    const promote = () => call(stack.operatorUrl, 'PATCH', `/v1/operator/operators/${target}`, { token: stack.operatorToken, json: { roles: ['viewer', 'security'] } });
    expect([(await promote()).status, (await promote()).body.code]).toEqual([409, 'reset_by_security_required']);
    expect((await call(stack.operatorUrl, 'POST', `/v1/operator/operators/${target}/reset`, { token: stack.operatorToken })).status).toBe(200);
    expect((await promote()).status).toBe(200);
    expect((await call(stack.operatorUrl, 'POST', `/v1/operator/operators/${target}/reset`, { token: other.token })).body.code).toBe('role_not_held');
    expect(await stack.database.ownerDb('operators').where({ email: 'puppet@forclinic.example' }).first()).toBeUndefined();
    expect((await call(stack.operatorUrl, 'POST', `/v1/operator/operators/${id}/reset`, { token: stack.operatorToken })).status).toBe(200);
    const resetMails = async () => (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.body.text!.includes('reset the operator') && m.body.text!.includes('self-grant@forclinic.example'));
    await eventually('the reset is mailed to the operator and to security', async () => (await resetMails()).length >= 2);
    expect((await resetMails()).map((m) => m.destination.to[0]).sort()).toEqual(['security-team@forclinic.example', 'self-grant@forclinic.example']);
  });

  it('a passkey made at an origin the service does not accept is refused with that said, in its own words (the page\'s origin is not echoed)', async () => {
    const { initialPassword } = await createOperator(stack, ['viewer'], 'wrong-origin@forclinic.example');
    const first = await login('wrong-origin@forclinic.example', initialPassword);
    await call(stack.operatorUrl, 'POST', '/v1/operator/me/password', { token: first.body.token, json: { currentPassword: initialPassword, newPassword: PASSWORD } });
    const options = await call(stack.operatorUrl, 'POST', '/v1/operator/auth/passkeys/registration/options', { token: first.body.token });
    const elsewhere = softwarePasskey({ origin: 'http://evil.example:4201', rpId: 'localhost' });
    const refused = await call(stack.operatorUrl, 'POST', '/v1/operator/auth/passkeys/registration/verify', { token: first.body.token, json: { response: elsewhere.registrationResponse(options.body.challenge) } });
    expect([refused.status, refused.body.code]).toEqual([400, 'webauthn_verification_failed']);
    expect(refused.body.detail).toContain('not at an origin this service accepts');
    expect(refused.body.detail).not.toContain('evil.example');
  });

  it('a registration challenge fetched inside the five minutes adds no passkey after them: 403 reauthentication_required', async () => {
    const { id, token } = await activeOperator('late-passkey@forclinic.example', ['viewer']);
    const options = await call(stack.operatorUrl, 'POST', '/v1/operator/auth/passkeys/registration/options', { token });
    expect(options.status).toBe(200);
    // The proof is now six minutes old (the session's verification moved back: the test's clock).
    const sessionId = (await stack.database.ownerDb('operator_sessions').whereNull('revoked_at').orderBy('created_at', 'desc').first()).id;
    await stack.database.ownerDb('operator_sessions').where({ id: sessionId }).update({ verified_at: stack.database.ownerDb.raw(`now() - interval '6 minutes'`) });
    const passkey = softwarePasskey({ origin: ORIGIN, rpId: 'localhost' });
    const late = await call(stack.operatorUrl, 'POST', '/v1/operator/auth/passkeys/registration/verify', { token, json: { response: passkey.registrationResponse(options.body.challenge) } });
    expect([late.status, late.body.code]).toEqual([403, 'reauthentication_required']);
    expect(await stack.database.ownerDb('operator_passkeys').where({ operator_id: id })).toHaveLength(1);
  });

  it('two platform admins taken away at the same moment: one succeeds, the other is 409 last_platform_admin, one remains', async () => {
    const patch = (id: string, json: unknown) => call(stack.operatorUrl, 'PATCH', `/v1/operator/operators/${id}`, { token: stack.operatorToken, json });
    for (let round = 0; round < 8; round++) {
      const a = await createOperator(stack, ['platform-admin'], `race-a${round}@forclinic.example`);
      const b = await createOperator(stack, ['platform-admin'], `race-b${round}@forclinic.example`);
      // Only these two are platform admins.
      const others = ((await call(stack.operatorUrl, 'GET', '/v1/operator/operators', { token: stack.operatorToken })).body.items as Array<{ id: string; roles: string[]; state: string }>)
        .filter((o) => o.state === 'active' && o.roles.includes('platform-admin') && ![a.id, b.id].includes(o.id));
      for (const o of others) expect((await patch(o.id, { roles: ['viewer'] })).status).toBe(200);
      const replies = await Promise.all([patch(a.id, { roles: ['viewer'] }), patch(b.id, { state: 'disabled' }), patch(b.id, { roles: ['viewer'] }), patch(a.id, { state: 'disabled' })]);
      // Each change either passed or was refused as taking the last admin away; never both admins gone.
      expect(replies.every((r) => r.status === 200 || r.body.code === 'last_platform_admin')).toBe(true);
      expect(replies.some((r) => r.status === 200)).toBe(true);
      const admins = await stack.database.ownerDb('operators').where({ state: 'active' }).whereRaw(`'platform-admin' = any(roles)`);
      expect(admins).toHaveLength(1);
    }
  });
});
