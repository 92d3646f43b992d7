import { withTenant } from '../../db/tenant-scope';
import { insertTenant } from '../../db/tenants';
import { createTestDatabase, type TestDatabase } from '../harness/database';

/**
 * The second line of isolation: even SQL that forgot its tenant scope, sent through the
 * application's own connection pool, sees no clinic's rows; and the operation log is
 * append-only for the application at the database level.
 */
let t: TestDatabase;
let a: string;
let b: string;

beforeAll(async () => {
  t = await createTestDatabase();
  a = (await insertTenant(t.db, { slug: 'rls-a', name: 'A', contractEmails: ['a@a.example'] })).id;
  b = (await insertTenant(t.db, { slug: 'rls-b', name: 'B', contractEmails: ['b@b.example'] })).id;
  for (const [tenant, login] of [[a, 'alice'], [b, 'bob']] as const) {
    await t.ownerDb('accounts').insert({ tenant_id: tenant, login_id: login, email: `${login}@x.example`, display_name: login, roles: ['admin'], password_hash: 'x' });
    await t.ownerDb('audit_events').insert({ tenant_id: tenant, actor_type: 'system', action: 'test', outcome: 'success' });
  }
});
afterAll(async () => {
  await t?.drop();
});

describe('row-level security through the application connection', () => {
  it('an unscoped query returns nothing at all', async () => {
    expect((await t.db.raw('select current_user')).rows[0].current_user).toBe('forclinic_app');
    for (const table of ['accounts', 'audit_events', 'sessions', 'tenant_settings', 'webauthn_credentials', 'groups']) {
      const { rows } = await t.db.raw(`select * from ${table}`);
      expect([table, rows.length]).toEqual([table, 0]);
    }
    expect((await t.ownerDb('accounts')).length).toBe(2);
  });

  it('a scoped query sees only its own clinic, even when it asks for the other', async () => {
    const seen = await withTenant(t.db, a, async (trx) => (await trx.raw(`select login_id from accounts`)).rows);
    expect(seen).toEqual([{ login_id: 'alice' }]);
    const other = await withTenant(t.db, a, async (trx) => (await trx.raw(`select login_id from accounts where tenant_id = ?`, [b])).rows);
    expect(other).toEqual([]);
  });

  it('cannot write a row into another clinic', async () => {
    await expect(
      withTenant(t.db, a, (trx) => trx.raw(`insert into groups (tenant_id, name) values (?, 'sneaky')`, [b])),
    ).rejects.toThrow(/row-level security/);
    await expect(withTenant(t.db, a, (trx) => trx.raw(`update accounts set tenant_id = ?`, [b]))).rejects.toThrow(/row-level security/);
    expect((await t.ownerDb('accounts').where({ tenant_id: b })).length).toBe(1);
  });

  it('cannot change or delete operation-log entries', async () => {
    await expect(withTenant(t.db, a, (trx) => trx.raw(`update audit_events set action = 'forged'`))).rejects.toThrow(/permission denied/);
    await expect(withTenant(t.db, a, (trx) => trx.raw(`delete from audit_events`))).rejects.toThrow(/permission denied/);
    await expect(withTenant(t.db, a, (trx) => trx.raw(`truncate audit_events`))).rejects.toThrow(/permission denied/);
    expect((await t.ownerDb('audit_events').where({ action: 'test' })).length).toBe(2);
  });
});
