import type { Knex } from 'knex';

/**
 * The group role that holds the application's privileges and that every policy is written for.
 * Nobody logs in as it: the application's login role inherits it (db/roles.ts).
 */
export const APP_ROLE = 'forclinic_app';

/**
 * The group role of the contract-end purge's own login (PURGE_DATABASE_URL): it reads and
 * deletes one clinic's rows (app.tenant_id) in every table with a tenant_id, and does nothing
 * else (README: Contract end).
 */
export const PURGE_ROLE = 'forclinic_purge';

/**
 * Creates a NOLOGIN group role unless it exists. Roles are cluster-wide, so parallel migrations
 * of several databases may race to create it; the loser's error is ignored.
 */
export const ensureGroupRoleSql = (role: string) => `
  do $$ begin
    if not exists (select 1 from pg_roles where rolname = '${role}') then create role ${role} nologin; end if;
  exception when duplicate_object or unique_violation then null;
  end $$;`;

/**
 * Lets the purge delete `table`'s rows of the clinic in scope. Every table with a tenant_id gets
 * this (isolateByTenant does it; the contract-end migration did it for the tables before it); a
 * purge refuses to start while any such table lacks it, so no clinic data is silently left.
 */
export async function purgeableByContractEnd(knex: Knex, table: string): Promise<void> {
  // Idempotent: the role is cluster-wide, so an earlier migration of this database may have added it already.
  await knex.raw(`
    drop policy if exists contract_purge on ${table};
    create policy contract_purge on ${table} to ${PURGE_ROLE}
      using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
    grant select, delete on ${table} to ${PURGE_ROLE};
  `);
}

/**
 * Row-level security for a tenant-owned table: the application role sees and writes only rows
 * of the clinic named by app.tenant_id (set by withTenant), and gets exactly `grants`.
 */
export async function isolateByTenant(knex: Knex, table: string, grants: string): Promise<void> {
  await knex.raw(`
    alter table ${table} enable row level security;
    alter table ${table} force row level security;
    create policy tenant_isolation on ${table} to ${APP_ROLE}
      using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
      with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
    grant ${grants} on ${table} to ${APP_ROLE};
  `);
  // Before the contract-end migration the purge role does not exist yet; that migration covers the tables made before it.
  const { rows } = await knex.raw(`select 1 from pg_roles where rolname = '${PURGE_ROLE}'`);
  if (rows.length) await purgeableByContractEnd(knex, table);
}

const PLATFORM = `coalesce(current_setting('app.platform', true), '') = 'on'`;

/**
 * Row-level security for a platform table (no clinic): only a transaction that says it acts for
 * the platform (withPlatform, db/platform-scope.ts) sees or writes its rows, with exactly `grants`.
 */
export async function platformOnly(knex: Knex, table: string, grants: string): Promise<void> {
  await knex.raw(`
    alter table ${table} enable row level security;
    alter table ${table} force row level security;
    create policy platform_scope on ${table} to ${APP_ROLE} using (${PLATFORM}) with check (${PLATFORM});
    grant ${grants} on ${table} to ${APP_ROLE};
  `);
}
