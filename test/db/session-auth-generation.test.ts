import { randomUUID } from 'node:crypto';
import { SessionAuthCache } from '../../db/session-auth-cache';
import { authenticateSession, createSession, touchSession, type SessionAuthRecord } from '../../db/sessions';
import { withTenant } from '../../db/tenant-scope';
import { insertTenant } from '../../db/tenants';
import { DEFAULT_PASSWORD_POLICY } from '../../domain/password-policy';
import { createTestDatabase, type TestDatabase } from '../harness/database';

/**
 * Session authentication keeps its answers in the API process (db/session-auth-cache.ts) and uses
 * one again only when the clinic's authentication generation, read on the same request, has not
 * moved. These tests hold the promise that makes that safe: every change to what session_auth()
 * reads moves the generation when it commits, whoever makes it (another API process, a worker,
 * an operator's tool, the tables' owner), so the next request sees it exactly as a full read would.
 */
let t: TestDatabase;
let tenantId: string;
let otherTenant: string;
let accountId: string;

const generation = async (tenant = tenantId) =>
  ((await t.ownerDb.raw('select generation from auth_generations where tenant_id = ?', [tenant])).rows[0]?.generation as string | undefined);

async function newSession(tenant = tenantId, account = accountId): Promise<string> {
  return withTenant(t.db, tenant, async (trx) =>
    (await createSession(trx, { tenantId: tenant, accountId: account, state: 'active', policy: DEFAULT_PASSWORD_POLICY, clientIp: null, userAgent: null })).token,
  );
}

beforeAll(async () => {
  t = await createTestDatabase();
  tenantId = (await insertTenant(t.db, { slug: 'gen-a', name: 'A', contractEmails: ['a@a.example'] })).id;
  otherTenant = (await insertTenant(t.db, { slug: 'gen-b', name: 'B', contractEmails: ['b@b.example'] })).id;
  await t.ownerDb('tenants').update({ status: 'active' });
  accountId = randomUUID();
  await t.ownerDb('accounts').insert({ id: accountId, tenant_id: tenantId, login_id: 'alice', email: 'alice@a.example', display_name: 'Alice', roles: ['admin'], password_hash: 'x' });
});
afterAll(async () => {
  await t?.drop();
});

describe('the clinic authentication generation', () => {
  it('a new clinic has its counter', async () => {
    expect(await generation()).toEqual(expect.any(String));
    expect(await generation(otherTenant)).toEqual(expect.any(String));
  });

  it('moves, at commit, for every change session_auth() reads — and only for its own clinic', async () => {
    const token = await newSession();
    const passkeyId = randomUUID();
    const changes: Array<[string, () => Promise<unknown>]> = [
      ['clinic suspended', () => t.ownerDb('tenants').where({ id: tenantId }).update({ status: 'suspended' })],
      ['clinic active again', () => t.ownerDb('tenants').where({ id: tenantId }).update({ status: 'active' })],
      ['contract end set', () => t.ownerDb('tenants').where({ id: tenantId }).update({ contract_ends_at: new Date(Date.now() + 86_400_000) })],
      ['settings first saved', () => t.ownerDb('tenant_settings').insert({ tenant_id: tenantId, network_allowlist: ['10.0.0.0/8'] })],
      ['allowlist changed', () => t.ownerDb('tenant_settings').where({ tenant_id: tenantId }).update({ network_allowlist: [] })],
      ['session revoked', () => t.ownerDb('sessions').where({ tenant_id: tenantId }).update({ revoked_at: new Date() })],
      ['session deleted', () => t.ownerDb('sessions').where({ tenant_id: tenantId }).delete()],
      ['roles changed', () => t.ownerDb('accounts').where({ id: accountId }).update({ roles: ['staff'] })],
      ['account disabled', () => t.ownerDb('accounts').where({ id: accountId }).update({ disabled: true })],
      ['account enabled', () => t.ownerDb('accounts').where({ id: accountId }).update({ disabled: false, roles: ['admin'] })],
      [
        'passkey added',
        () =>
          t.ownerDb('webauthn_credentials').insert({ id: passkeyId, tenant_id: tenantId, account_id: accountId, credential_id: `cred-${passkeyId}`, public_key: Buffer.from('k'), device_type: 'singleDevice', backed_up: false, name: 'key' }),
      ],
      ['passkey removed', () => t.ownerDb('webauthn_credentials').where({ id: passkeyId }).delete()],
    ];
    expect(token).toBeDefined();
    for (const [what, change] of changes) {
      const before = await generation();
      const other = await generation(otherTenant);
      await change();
      expect([what, BigInt((await generation())!) > BigInt(before!)]).toEqual([what, true]);
      expect([what, await generation(otherTenant)]).toEqual([what, other]);
    }
  });

  it('does not move for a change that rolls back, nor for a new session (nobody holds an answer for its token)', async () => {
    const before = await generation();
    await expect(
      t.ownerDb.transaction(async (trx) => {
        await trx('accounts').where({ id: accountId }).update({ roles: ['staff'] });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    await newSession();
    expect(await generation()).toBe(before);
  });

  it('moves once per transaction and clinic, however many rows a statement changes (a bulk revoke holds the counter for a moment, not for seconds)', async () => {
    const before = await generation();
    const other = await generation(otherTenant);
    await t.ownerDb('sessions').insert(
      Array.from({ length: 500 }, (_, i) => ({
        tenant_id: tenantId, account_id: accountId, token_hash: Buffer.from(`bulk-${i}`), state: 'active',
        idle_expires_at: new Date(Date.now() + 3_600_000), absolute_expires_at: new Date(Date.now() + 3_600_000),
      })),
    );
    await t.ownerDb.transaction(async (trx) => {
      await trx('sessions').where({ tenant_id: tenantId }).update({ revoked_at: new Date() });
      await trx('accounts').where({ id: accountId }).update({ roles: ['admin'] });
      await trx('sessions').where({ tenant_id: tenantId }).whereNotNull('revoked_at').delete();
    });
    expect(BigInt((await generation())!) - BigInt(before!)).toBe(1n);
    expect(await generation(otherTenant)).toBe(other);
    // The next transaction moves it again; a mark left in the connection's settings does not stop it.
    await t.ownerDb.transaction(async (trx) => {
      await trx.raw(`select set_config('app.auth_generation_moved', ?, false)`, [`1:${tenantId},`]);
      await trx('accounts').where({ id: accountId }).update({ display_name: 'Alice (again)' });
    });
    expect(BigInt((await generation())!) - BigInt(before!)).toBe(2n);
    await t.ownerDb('accounts').where({ id: accountId }).update({ display_name: 'Alice' });
  });

  it('moves every clinic\'s counter when a watched table is emptied with TRUNCATE (which fires no row triggers)', async () => {
    const before = [await generation(), await generation(otherTenant)];
    await t.ownerDb.raw('truncate webauthn_credentials cascade');
    const after = [await generation(), await generation(otherTenant)];
    // (Cascading to sessions, which moves them once more.)
    expect(after.map((g, i) => BigInt(g!) > BigInt(before[i]!))).toEqual([true, true]);
  });

  it('is not moved by a session\'s touch (its idle deadline extended), but is by a shorter deadline', async () => {
    await newSession();
    const before = await generation();
    await t.ownerDb('sessions').where({ tenant_id: tenantId }).whereNull('revoked_at').update({ last_seen_at: new Date(), idle_expires_at: t.ownerDb.raw(`idle_expires_at + interval '1 minute'`) });
    expect(await generation()).toBe(before);
    await t.ownerDb('sessions').where({ tenant_id: tenantId }).whereNull('revoked_at').update({ idle_expires_at: t.ownerDb.raw(`idle_expires_at - interval '2 minutes'`) });
    expect(BigInt((await generation())!) > BigInt(before!)).toBe(true);
  });

  it('is not moved by what session_auth() does not read: a failed login, a passkey\'s use, a contract address', async () => {
    const passkeyId = randomUUID();
    await t.ownerDb('webauthn_credentials').insert({ id: passkeyId, tenant_id: tenantId, account_id: accountId, credential_id: `cred-${passkeyId}`, public_key: Buffer.from('k'), device_type: 'singleDevice', backed_up: false, name: 'key' });
    const before = await generation();
    await t.ownerDb('accounts').where({ id: accountId }).increment('failed_login_count', 1);
    await t.ownerDb('webauthn_credentials').where({ id: passkeyId }).update({ counter: 7, last_used_at: new Date() });
    await t.ownerDb('tenants').where({ id: tenantId }).update({ contract_emails: ['new@a.example'] });
    expect(await generation()).toBe(before);
    await t.ownerDb('webauthn_credentials').where({ id: passkeyId }).delete();
  });

  it('watches every column of the clinic and the account that session_auth() reads (its text, as installed)', async () => {
    const fn = (await t.ownerDb.raw(`select pg_get_functiondef('session_auth(uuid, bytea)'::regprocedure) as d`)).rows[0].d as string;
    const read = (alias: string) => [...new Set([...fn.matchAll(new RegExp(`\\b${alias}\\.([a-z_]+)`, 'g'))].map((m) => m[1]!))];
    for (const [alias, table] of [['t', 'tenants'], ['a', 'accounts']] as const) {
      const trigger = (await t.ownerDb.raw(`select pg_get_triggerdef(oid) as d from pg_trigger where tgrelid = ?::regclass and tgname = 'auth_generation_moved'`, [table])).rows[0].d as string;
      expect(read(alias).length).toBeGreaterThan(3);
      expect([table, read(alias).filter((c) => !trigger.includes(`old.${c} IS DISTINCT FROM new.${c}`))]).toEqual([table, []]);
    }
  });

  it('is moved by nobody but the triggers: the application may only read it', async () => {
    expect((await t.db.raw('select count(*)::int as n from auth_generations')).rows[0].n).toBeGreaterThanOrEqual(2);
    await expect(t.db.raw(`update auth_generations set generation = 0`)).rejects.toThrow(/permission denied/);
    await expect(t.db.raw(`delete from auth_generations`)).rejects.toThrow(/permission denied/);
    await expect(t.db.raw(`insert into auth_generations (tenant_id) values (gen_random_uuid())`)).rejects.toThrow(/permission denied/);
  });
});

describe('authenticateSession with the API cache', () => {
  const cache = new SessionAuthCache<SessionAuthRecord>(100);

  it('answers a change made elsewhere (here: by the owner, as a worker or another API process would) on the very next call', async () => {
    const token = await newSession();
    expect((await authenticateSession(t.db, tenantId, token, cache))?.session?.account.roles).toEqual(['admin']);
    expect(cache.size).toBeGreaterThan(0);
    await t.ownerDb('accounts').where({ id: accountId }).update({ roles: ['doctor'] });
    expect((await authenticateSession(t.db, tenantId, token, cache))?.session?.account.roles).toEqual(['doctor']);
    await t.ownerDb('sessions').where({ tenant_id: tenantId }).update({ revoked_at: new Date() });
    expect((await authenticateSession(t.db, tenantId, token, cache))?.session).toBeUndefined();
    await t.ownerDb('accounts').where({ id: accountId }).update({ roles: ['admin'] });
  });

  it('uses the kept answer while the generation stands (shown by a change made behind the triggers, which only a full read would see)', async () => {
    const token = await newSession();
    expect((await authenticateSession(t.db, tenantId, token, cache))?.session?.account.displayName).toBe('Alice');
    // Triggers off for this one change: what no code path of ours can do, so that the test can
    // tell a kept answer from a fresh one.
    await t.ownerDb.transaction(async (trx) => {
      await trx.raw(`set local session_replication_role = replica`);
      await trx('accounts').where({ id: accountId }).update({ display_name: 'Alice (renamed quietly)' });
    });
    expect((await authenticateSession(t.db, tenantId, token, cache))?.session?.account.displayName).toBe('Alice');
    expect((await authenticateSession(t.db, tenantId, token))?.session?.account.displayName).toBe('Alice (renamed quietly)');
    // The next counted change brings it back in line.
    await t.ownerDb('accounts').where({ id: accountId }).update({ email: 'alice2@a.example' });
    expect((await authenticateSession(t.db, tenantId, token, cache))?.session?.account).toMatchObject({ displayName: 'Alice (renamed quietly)', email: 'alice2@a.example' });
  });

  it('reads a kept answer again once it looks expired or due for a touch: a session another process extended stays live', async () => {
    const token = await newSession();
    const first = (await authenticateSession(t.db, tenantId, token, cache))!.session!;
    const clock = jest.spyOn(Date, 'now');
    try {
      // Another API process touches it a minute on (no generation move for a touch).
      const before = await generation();
      clock.mockReturnValue(first.lastSeenAt.getTime() + 61_000);
      await withTenant(t.db, tenantId, (trx) => touchSession(trx, first, DEFAULT_PASSWORD_POLICY));
      expect(await generation()).toBe(before);
      // Here, the kept answer is due for a touch: read again, it shows the touch.
      const second = (await authenticateSession(t.db, tenantId, token, cache))!.session!;
      expect(second.idleExpiresAt.getTime()).toBeGreaterThan(first.idleExpiresAt.getTime());
      // Past the first idle deadline, before the extended one: live.
      clock.mockReturnValue(first.idleExpiresAt.getTime() + 1);
      expect((await authenticateSession(t.db, tenantId, token, cache))?.session?.id).toBe(first.id);
    } finally {
      clock.mockRestore();
    }
  });

  it('judges a kept session\'s deadlines at each call (time passing moves no generation), and answers no token for another clinic', async () => {
    const token = await newSession();
    const first = await authenticateSession(t.db, tenantId, token, cache);
    expect(first?.session).toBeDefined();
    const idleEnd = first!.session!.idleExpiresAt.getTime();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(idleEnd + 1);
    try {
      expect((await authenticateSession(t.db, tenantId, token, cache))?.session).toBeUndefined();
    } finally {
      clock.mockRestore();
    }
    expect((await authenticateSession(t.db, tenantId, token, cache))?.session?.id).toBe(first!.session!.id);
    expect(await authenticateSession(t.db, otherTenant, token, cache)).toMatchObject({ clinic: { id: otherTenant }, session: undefined });
  });
});
