import type { Knex } from 'knex';

/**
 * The group role that holds the application's privileges and that every policy is written for.
 * Nobody logs in as it: the application's login role inherits it (db/roles.ts).
 */
export const APP_ROLE = 'forclinic_app';

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
