import { randomUUID } from 'node:crypto';
import { call } from '../harness/http';
import { createApiKey } from '../harness/operators';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * Scoped API keys for automation (README: Operators): a platform admin creates a named key with
 * roles and an expiry, sees its secret once, and sees its last use; the key works within its
 * roles until it expires or is revoked, and every request made with it is attributed to its name.
 */
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({}, { worker: false });
});
afterAll(() => stack?.stop());

const listKeys = async (token = stack.operatorToken) => (await call(stack.operatorUrl, 'GET', '/v1/operator/api-keys', { token })).body.items as Array<Record<string, unknown>>;

describe('operator API keys', () => {
  it('shows the secret once, stores only its hash, and works within the key\'s roles', async () => {
    const created = await call(stack.operatorUrl, 'POST', '/v1/operator/api-keys', {
      token: stack.operatorToken,
      json: { name: 'nightly-report', roles: ['viewer'], expiresInSeconds: 3_600 },
    });
    expect(created.status).toBe(201);
    const { key, apiKey } = created.body;
    expect(key).toMatch(/^fcop_[A-Za-z0-9_-]{43}$/);
    expect(apiKey).toMatchObject({ name: 'nightly-report', roles: ['viewer'], status: 'active', createdBy: 'break-glass', lastUsedAt: null, hint: key.slice(0, 11) });
    // Only the SHA-256 is in the database; the listing never shows the secret.
    const [row] = await stack.database.ownerDb('operator_api_keys').where({ id: apiKey.id });
    expect(row.tokenHash).toBeInstanceOf(Buffer);
    expect(JSON.stringify(row)).not.toContain(key.slice(11));
    expect(JSON.stringify(await listKeys())).not.toContain(key.slice(11));

    const me = await call(stack.operatorUrl, 'GET', '/v1/operator/me', { token: key });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ via: 'api-key', id: apiKey.id, name: 'nightly-report', roles: ['viewer'] });
    expect((await call(stack.operatorUrl, 'GET', '/v1/operator/tenants', { token: key })).status).toBe(200);
    const refused = await call(stack.operatorUrl, 'GET', '/v1/operator/api-keys', { token: key });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('operator_role_required');

    const listed = (await listKeys()).find((k) => k.id === apiKey.id)!;
    expect(listed.lastUsedAt).toEqual(expect.any(String));
    expect(listed.lastUsedIp).toBe('127.0.0.1');
  });

  it('refuses a key after it expired (the expiry is moved into the past, as a clock would)', async () => {
    const { id, key } = await createApiKey(stack, ['viewer'], 'short-lived');
    expect((await call(stack.operatorUrl, 'GET', '/v1/operator/me', { token: key })).status).toBe(200);
    await stack.database.ownerDb('operator_api_keys').where({ id }).update({ expiresAt: stack.database.ownerDb.raw(`now() - interval '1 second'`) });
    const after = await call(stack.operatorUrl, 'GET', '/v1/operator/me', { token: key });
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toBe('Bearer realm="operator"');
    expect((await listKeys()).find((k) => k.id === id)).toMatchObject({ status: 'expired' });
  });

  it('revokes a key at once; revoking again changes nothing; unknown ids are 404', async () => {
    const breakGlass = stack.operatorToken;
    const { id, key } = await createApiKey(stack, ['support'], 'helpdesk');
    expect((await call(stack.operatorUrl, 'GET', '/v1/operator/me', { token: key })).status).toBe(200);
    expect((await call(stack.operatorUrl, 'DELETE', `/v1/operator/api-keys/${id}`, { token: breakGlass })).status).toBe(204);
    expect((await call(stack.operatorUrl, 'GET', '/v1/operator/me', { token: key })).status).toBe(401);
    expect((await call(stack.operatorUrl, 'DELETE', `/v1/operator/api-keys/${id}`, { token: breakGlass })).status).toBe(204);
    expect((await listKeys()).find((k) => k.id === id)).toMatchObject({ status: 'revoked', revokedAt: expect.any(String) });
    expect((await call(stack.operatorUrl, 'DELETE', '/v1/operator/api-keys/00000000-0000-4000-8000-000000000000', { token: breakGlass })).status).toBe(404);

    // Who did what: the platform's operation log names who created and revoked it.
    const log = await stack.database.ownerDb('platform_audit_events').whereIn('action', ['operator.api_key.create', 'operator.api_key.revoke']).where({ targetId: id }).orderBy('occurredAt');
    expect(log.map((e: { action: string; actorId: string }) => [e.action, e.actorId])).toEqual([
      ['operator.api_key.create', 'break-glass'],
      ['operator.api_key.revoke', 'break-glass'],
    ]);
  });

  it('lets only people manage keys and operators: a platform-admin key can neither mint keys nor operators, nor revoke', async () => {
    const admin = await createApiKey(stack, ['platform-admin'], 'provisioning');
    const other = await createApiKey(stack, ['viewer'], 'report');
    // Nor may a support key open a clinic: an administrator made, or an allowlist cleared, by a leaked key would
    // outlive its revocation. (The refusal comes before the clinic is looked up, so any id shows it.)
    const support = await createApiKey(stack, ['support'], 'helpdesk-bot');
    const clinicId = randomUUID();
    const attempts = [
      call(stack.operatorUrl, 'POST', '/v1/operator/api-keys', { token: admin.key, json: { name: 'child', roles: ['platform-admin'], expiresInSeconds: 3_600 } }),
      call(stack.operatorUrl, 'DELETE', `/v1/operator/api-keys/${other.id}`, { token: admin.key }),
      call(stack.operatorUrl, 'POST', '/v1/operator/operators', { token: admin.key, json: { email: 'minted@forclinic.example', name: 'Minted', roles: ['security'] } }),
      call(stack.operatorUrl, 'POST', `/v1/operator/tenants/${clinicId}/admins`, { token: support.key, json: { loginId: 'minted', email: 'minted@key-clinic.example', displayName: 'Minted' } }),
      call(stack.operatorUrl, 'DELETE', `/v1/operator/tenants/${clinicId}/network-allowlist`, { token: support.key }),
      call(stack.operatorUrl, 'DELETE', `/v1/operator/tenants/${clinicId}/legal-hold`, { token: admin.key }),
      // Where a clinic's notices go, when its data is deleted, and letting a suspended clinic back in:
      // a person who has just proved their passkey, not a key (attack run: a key redirected them).
      call(stack.operatorUrl, 'PATCH', `/v1/operator/tenants/${clinicId}`, { token: admin.key, json: { contractEmails: ['evil-key@attacker.example'] } }),
      call(stack.operatorUrl, 'PATCH', `/v1/operator/tenants/${clinicId}`, { token: admin.key, json: { contractEndsAt: null } }),
      call(stack.operatorUrl, 'PATCH', `/v1/operator/tenants/${clinicId}`, { token: admin.key, json: { name: 'x', status: 'active' } }),
    ];
    for (const reply of await Promise.all(attempts)) expect([reply.status, reply.body.code]).toEqual([403, 'operator_session_required']);
    // A name or a suspension is the key's to change (404: no such clinic, past every check).
    for (const json of [{ name: 'Renamed' }, { status: 'suspended' }]) {
      expect((await call(stack.operatorUrl, 'PATCH', `/v1/operator/tenants/${clinicId}`, { token: admin.key, json })).status).toBe(404);
    }
    // It still does what its role is for.
    expect((await call(stack.operatorUrl, 'GET', '/v1/operator/api-keys', { token: admin.key })).status).toBe(200);
    expect((await listKeys()).find((k) => k.id === other.id)).toMatchObject({ status: 'active' });
  });

  it('validates what a key may be', async () => {
    const bad = async (json: unknown) => (await call(stack.operatorUrl, 'POST', '/v1/operator/api-keys', { token: stack.operatorToken, json })).status;
    expect(await bad({ name: 'x', roles: [], expiresInSeconds: 3600 })).toBe(400);
    expect(await bad({ name: 'x', roles: ['root'], expiresInSeconds: 3600 })).toBe(400);
    expect(await bad({ name: 'x', roles: ['viewer', 'viewer'], expiresInSeconds: 3600 })).toBe(400);
    expect(await bad({ name: 'x', roles: ['viewer'], expiresInSeconds: 400 * 86_400 })).toBe(400);
    expect(await bad({ name: 'x', roles: ['viewer'], expiresInSeconds: 10 })).toBe(400);
  });

  it('answers 401 to a made-up key and records the attempt', async () => {
    const made = await call(stack.operatorUrl, 'GET', '/v1/operator/me', { token: `fcop_${'A'.repeat(43)}` });
    expect(made.status).toBe(401);
    const events = await stack.database.ownerDb('security_events').where({ kind: 'operator_token' });
    expect(events.length).toBeGreaterThan(0);
  });
});
