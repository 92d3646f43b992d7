import { checkAppLogin, createDb } from '../../db/connection';
import { PrivilegedLoginError } from '../../db/roles';
import { withTenant } from '../../db/tenant-scope';
import { insertTenant } from '../../db/tenants';
import { createTestDatabase, testLogin, type TestDatabase } from '../harness/database';

/**
 * The second line of isolation: even SQL that forgot its tenant scope, sent through the
 * application's own connection pool, sees no clinic's rows; and the operation log is
 * append-only for the application at the database level. Neither can be switched off by SQL
 * the application runs: its login is not the tables' owner and cannot become it.
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
    expect((await t.db.raw('select current_user')).rows[0].current_user).toBe(testLogin().user);
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

describe('the application login cannot switch isolation or the append-only log off', () => {
  /** One session of the API's pool, as a request's transaction (or an injected statement) has it. */
  const inSession = <T>(fn: (trx: Parameters<Parameters<typeof t.db.transaction>[0]>[0]) => Promise<T>) => t.db.transaction(fn);
  const login = () => testLogin().user;
  const tableOwners = async (): Promise<string[]> =>
    (await t.ownerDb.raw(`select distinct tableowner from pg_tables where schemaname = 'public'`)).rows.map((r: { tableowner: string }) => r.tableowner);

  it('is its own session user: not a superuser, no BYPASSRLS, CREATEROLE or CREATEDB, a member of forclinic_app only', async () => {
    const { rows } = await t.db.raw(
      `select session_user, current_user, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolreplication
       from pg_roles where rolname = session_user`,
    );
    expect(rows).toEqual([
      { session_user: login(), current_user: login(), rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false, rolreplication: false },
    ]);
    const member = await t.db.raw(`select rolname from pg_roles where pg_has_role(session_user, oid, 'MEMBER') and rolname <> session_user`);
    expect(member.rows).toEqual([{ rolname: 'forclinic_app' }]);
    expect(await tableOwners()).not.toContain(login());
  });

  it('RESET ROLE changes nothing: another clinic stays invisible, scoped or not', async () => {
    const unscoped = await inSession(async (trx) => {
      await trx.raw('reset role');
      const who = (await trx.raw('select current_user')).rows[0].current_user;
      const accounts = (await trx.raw('select login_id from accounts')).rows;
      const log = (await trx.raw('select id from audit_events')).rows;
      return { who, accounts, log };
    });
    expect(unscoped).toEqual({ who: login(), accounts: [], log: [] });

    const scoped = await withTenant(t.db, a, async (trx) => {
      await trx.raw('reset role');
      await trx.raw('set role none');
      return {
        other: (await trx.raw('select login_id from accounts where tenant_id = ?', [b])).rows,
        own: (await trx.raw('select login_id from accounts')).rows,
      };
    });
    expect(scoped).toEqual({ other: [], own: [{ login_id: 'alice' }] });
  });

  it('cannot SET ROLE (or SESSION AUTHORIZATION) to the owner of the tables', async () => {
    const owners = await tableOwners();
    expect(owners.length).toBeGreaterThan(0);
    for (const owner of owners) {
      await expect(inSession((trx) => trx.raw(`set role "${owner}"`))).rejects.toThrow(/permission denied to set role/);
      await expect(inSession((trx) => trx.raw(`set session authorization "${owner}"`))).rejects.toThrow(/permission denied/);
    }
  });

  it('cannot update, delete or truncate the operation log, even after RESET ROLE', async () => {
    for (const sql of [
      `update audit_events set action = 'forged'`,
      `delete from audit_events`,
      `truncate audit_events`,
      `update audit_chain_heads set seq = 0`,
      `delete from audit_chain_heads`,
      `truncate audit_chain_heads`,
    ]) {
      await expect(
        inSession(async (trx) => {
          await trx.raw('reset role');
          await trx.raw(sql);
        }),
      ).rejects.toThrow(/permission denied/);
    }
    for (const sql of [`alter table audit_events disable trigger audit_events_chain`, `drop trigger audit_events_chain on audit_events`]) {
      await expect(inSession((trx) => trx.raw(sql))).rejects.toThrow(/must be owner/);
    }
    expect((await t.ownerDb('audit_events').where({ action: 'test' })).length).toBe(2);
  });

  it('cannot switch row-level security off, rewrite a policy, or take a table over', async () => {
    for (const sql of [
      'alter table accounts disable row level security',
      'alter table accounts no force row level security',
      'drop policy tenant_isolation on accounts',
      'alter policy tenant_isolation on accounts using (true)',
      'create policy open on accounts for select using (true)',
      `alter table accounts owner to "${login()}"`,
    ]) {
      await expect(inSession((trx) => trx.raw(sql))).rejects.toThrow(/must be owner|permission denied/);
    }
    // With row_security off, PostgreSQL refuses a filtered query instead of skipping the policy.
    await expect(
      inSession(async (trx) => {
        await trx.raw('set row_security = off');
        await trx.raw('select * from accounts');
      }),
    ).rejects.toThrow(/row-level security/);
  });

  it('cannot give itself more: role attributes, objects beside the tables', async () => {
    for (const sql of [
      'alter role current_user bypassrls',
      'alter role current_user superuser',
      'alter role current_user createrole',
      'create table public.backdoor (id int)',
      'create function public.backdoor() returns int language sql as $$ select 1 $$',
    ]) {
      await expect(inSession((trx) => trx.raw(sql))).rejects.toThrow(/permission denied|must be superuser/);
    }
  });

  it('an application pool given the owner\'s credential refuses to connect, and the start-up check stops on it', async () => {
    const wrong = createDb({ url: t.ownerUrl, poolMax: 1 });
    try {
      await expect(wrong.raw('select 1')).rejects.toThrow(PrivilegedLoginError);
      await expect(checkAppLogin(wrong)).rejects.toThrow(/DATABASE_URL logs in as "[^"]+", which the API and the workers must not use:\n {2}- is a superuser/);
    } finally {
      await wrong.destroy();
    }
    expect(await checkAppLogin(t.db)).toBe('ok');
  });
});
