import type { Knex } from 'knex';
import { isolateByTenant } from './tenant-isolation';

/**
 * Process areas (プロセス): named areas with files, visible only to the accounts and groups they
 * list. Names and file names can carry patient names, so they are stored encrypted (bytea); file
 * contents live encrypted in object storage, keyed by our own ids.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table processes (
      id uuid primary key,
      tenant_id uuid not null references tenants (id),
      name_sealed bytea not null,
      created_by uuid references accounts (id),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );
    create index processes_tenant_idx on processes (tenant_id, created_at);

    create table process_access (
      tenant_id uuid not null references tenants (id),
      process_id uuid not null references processes (id) on delete cascade,
      principal_type text not null check (principal_type in ('account', 'group')),
      principal_id uuid not null,
      primary key (process_id, principal_type, principal_id)
    );
    create index process_access_principal_idx on process_access (tenant_id, principal_type, principal_id);

    create table process_files (
      id uuid primary key,
      tenant_id uuid not null references tenants (id),
      process_id uuid not null references processes (id) on delete cascade,
      name_sealed bytea not null,
      content_type text not null,
      size_bytes bigint not null,
      stored_bytes bigint not null,
      storage_key text not null,
      created_by uuid references accounts (id),
      created_at timestamptz not null default now()
    );
    create index process_files_process_idx on process_files (process_id, created_at);

    alter table tenant_settings add column admins_see_all_processes boolean not null default false;
  `);
  for (const table of ['processes', 'process_access', 'process_files']) await isolateByTenant(knex, table, 'select, insert, update, delete');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table process_files, process_access, processes; alter table tenant_settings drop column admins_see_all_processes');
}
