import { withPlatform } from '../../db/platform-scope';
import { withTenant } from '../../db/tenant-scope';
import { insertTenant } from '../../db/tenants';
import { createTestDatabase, type TestDatabase } from '../harness/database';

/**
 * Operators' tables are platform rows (migration 20270101000003_operators): the application sees
 * them only inside withPlatform, never unscoped or from a clinic's transaction, and may not
 * delete operators, their sessions or API keys (they are disabled, revoked or expired instead).
 */
const TABLES = ['operators', 'operator_sessions', 'operator_passkeys', 'operator_webauthn_challenges', 'operator_api_keys', 'break_glass_uses'];
let t: TestDatabase;
let clinic: string;

beforeAll(async () => {
  t = await createTestDatabase();
  clinic = (await insertTenant(t.db, { slug: 'op-rls', name: 'A', contractEmails: ['a@a.example'] })).id;
  const [op] = await t.ownerDb('operators').insert({ email: 'o@x.example', name: 'O', roles: ['viewer'], password_hash: 'x', created_by: 'test' }).returning('id');
  const [session] = await t.ownerDb('operator_sessions')
    .insert({ operator_id: op.id, token_hash: Buffer.alloc(32, 1), state: 'active', idle_expires_at: new Date(Date.now() + 60_000), absolute_expires_at: new Date(Date.now() + 60_000) })
    .returning('id');
  await t.ownerDb('operator_passkeys').insert({ operator_id: op.id, credential_id: 'c', public_key: Buffer.alloc(1), device_type: 'singleDevice', backed_up: false, name: 'p' });
  await t.ownerDb('operator_webauthn_challenges').insert({ session_id: session.id, purpose: 'registration', challenge: 'x', expires_at: new Date(Date.now() + 60_000) });
  await t.ownerDb('operator_api_keys').insert({ name: 'k', roles: ['viewer'], token_hash: Buffer.alloc(32, 2), hint: 'fcop_x', created_by: 'test', expires_at: new Date(Date.now() + 60_000) });
  await t.ownerDb('break_glass_uses').insert({ window_start: new Date(0), uses: 1 });
});
afterAll(async () => {
  await t?.drop();
});

it('are invisible unscoped and to a clinic, visible inside withPlatform', async () => {
  for (const table of TABLES) {
    expect([table, (await t.db.raw(`select * from ${table}`)).rows.length]).toEqual([table, 0]);
    expect([table, await withTenant(t.db, clinic, async (trx) => (await trx.raw(`select * from ${table}`)).rows.length)]).toEqual([table, 0]);
    expect([table, await withPlatform(t.db, async (trx) => (await trx.raw(`select * from ${table}`)).rows.length)]).toEqual([table, 1]);
  }
});

it('cannot be written from a clinic\'s transaction, nor operators, sessions or keys deleted at all', async () => {
  await expect(withTenant(t.db, clinic, (trx) => trx.raw(`insert into operators (email, name, roles, password_hash, created_by) values ('e@x.example', 'E', '{viewer}', 'x', 'x')`))).rejects.toThrow(/row-level security/);
  for (const table of ['operators', 'operator_sessions', 'operator_api_keys']) {
    await expect(withPlatform(t.db, (trx) => trx.raw(`delete from ${table}`))).rejects.toThrow(/permission denied/);
  }
});

it('authentication functions see only the platform, and refuse inside a clinic\'s transaction', async () => {
  const key = (await t.db.raw('select * from operator_key_auth(?::bytea, ?)', [Buffer.alloc(32, 2), '127.0.0.1'])).rows;
  expect(key).toEqual([{ id: expect.any(String), name: 'k', roles: ['viewer'] }]);
  const session = (await t.db.raw('select * from operator_session_auth(?::bytea, 60)', [Buffer.alloc(32, 1)])).rows;
  expect(session).toEqual([expect.objectContaining({ state: 'active', name: 'O', roles: ['viewer'] })]);
  await expect(withTenant(t.db, clinic, (trx) => trx.raw('select * from operator_key_auth(?::bytea, ?)', [Buffer.alloc(32, 2), '127.0.0.1']))).rejects.toThrow(/a clinic is in scope/);
  // The scope was the function's statement's own: the pool's next query sees nothing again.
  expect((await t.db.raw('select * from operator_api_keys')).rows).toEqual([]);
});
