import { EmailDeliveryRow } from '../../db/models/email-delivery';
import { TenantScopeError, withTenant } from '../../db/tenant-scope';
import { insertTenant } from '../../db/tenants';
import { createTestDatabase, type TestDatabase } from '../harness/database';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

const tenant = (slug: string) => insertTenant(t.db, { slug, name: slug, contractEmails: [`x@${slug}.example`] });

describe('tenant-scoped data access', () => {
  it('refuses to build a query on tenant-owned rows outside withTenant()', async () => {
    expect(() => EmailDeliveryRow.query(t.db)).toThrow(TenantScopeError);
    // Without any connection the model falls back to none bound and fails when built.
    await expect(EmailDeliveryRow.query().then((rows) => rows)).rejects.toThrow(/withTenant|no database connection|knex/i);
    await t.db.transaction(async (trx) => {
      expect(() => EmailDeliveryRow.query(trx)).toThrow(TenantScopeError);
    });
  });

  it('stamps inserts with the scope\'s tenant and only ever sees that tenant\'s rows', async () => {
    const a = await tenant('scope-a');
    const b = await tenant('scope-b');
    await withTenant(t.db, a.id, (trx) => EmailDeliveryRow.query(trx).insert({ idempotencyKey: 'k-a', purpose: 'test' }));
    await withTenant(t.db, b.id, (trx) => EmailDeliveryRow.query(trx).insert({ idempotencyKey: 'k-b', purpose: 'test' }));

    const seenByA = await withTenant(t.db, a.id, (trx) => EmailDeliveryRow.query(trx));
    expect(seenByA.map((r) => r.idempotencyKey)).toEqual(['k-a']);
    expect(seenByA[0]!.tenantId).toBe(a.id);
    // Updates and deletes are scoped too: A cannot touch B's row even by its key.
    const touched = await withTenant(t.db, a.id, (trx) => EmailDeliveryRow.query(trx).patch({ purpose: 'hijack' }).where({ idempotencyKey: 'k-b' }));
    expect(touched).toBe(0);
    const deleted = await withTenant(t.db, a.id, (trx) => EmailDeliveryRow.query(trx).delete().where({ idempotencyKey: 'k-b' }));
    expect(deleted).toBe(0);
    expect((await t.ownerDb('email_deliveries').where({ idempotency_key: 'k-b' }).first()).purpose).toBe('test');
  });

  it('refuses an insert that names another tenant', async () => {
    const a = await tenant('scope-c');
    const b = await tenant('scope-d');
    await expect(
      withTenant(t.db, a.id, (trx) => EmailDeliveryRow.query(trx).insert({ tenantId: b.id, idempotencyKey: 'k-x', purpose: 'test' })),
    ).rejects.toThrow(TenantScopeError);
  });

  it('tells PostgreSQL the tenant for row-level security and rejects a non-UUID scope', async () => {
    const a = await tenant('scope-e');
    const setting = await withTenant(t.db, a.id, async (trx) => (await trx.raw(`select current_setting('app.tenant_id') as v`)).rows[0].v);
    expect(setting).toBe(a.id);
    await expect(withTenant(t.db, "x' or '1'='1", async () => 1)).rejects.toThrow(/UUID/);
  });

  it('sets the scope together with BEGIN, and with a statement of its own inside another transaction', async () => {
    const a = await tenant('scope-f');
    const b = await tenant('scope-g');
    const statements: string[] = [];
    const onQuery = (q: { sql: string }) => statements.push(q.sql);
    t.db.on('query', onQuery);
    try {
      // The first statement of the transaction already runs under the scope, and sees only its rows.
      const first = await withTenant(t.db, a.id, async (trx) => (await trx.raw(`select current_setting('app.tenant_id') as v, count(*)::int as n from email_deliveries`)).rows[0]);
      expect(first.v).toBe(a.id);
      expect(statements[0]).toMatch(/^BEGIN; SELECT set_config\('app\.tenant_id', '[0-9a-f-]{36}', true\);$/);
      expect(statements.filter((s) => /set_config/.test(s))).toHaveLength(1);
    } finally {
      t.db.removeListener('query', onQuery);
    }
    // A savepoint inside a transaction scoped elsewhere gets its own scope (no BEGIN of its own).
    const nested = await withTenant(t.db, a.id, (outer) =>
      withTenant(outer, b.id, async (trx) => (await trx.raw(`select current_setting('app.tenant_id') as v`)).rows[0].v),
    );
    expect(nested).toBe(b.id);
  });
});
