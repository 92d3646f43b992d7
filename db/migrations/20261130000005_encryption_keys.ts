import type { Knex } from 'knex';
import { isolateByTenant } from './tenant-isolation';

/**
 * Envelope encryption bookkeeping. Master keys stay in the key provider (KMS or the local key
 * store); here are only their ids, and data keys wrapped under them. Nothing in this database,
 * or in any backup of it, can decrypt customer data without the provider.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table tenant_master_keys (
      id text primary key,
      tenant_id uuid not null references tenants (id),
      status text not null check (status in ('active', 'retired', 'destroyed')),
      created_at timestamptz not null default now(),
      retired_at timestamptz
    );
    create unique index tenant_master_keys_one_active on tenant_master_keys (tenant_id) where status = 'active';

    create table data_keys (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      purpose text not null check (purpose in ('data', 'index')),
      master_key_id text not null references tenant_master_keys (id),
      wrapped bytea not null,
      created_at timestamptz not null default now(),
      rewrapped_at timestamptz
    );
    create unique index data_keys_one_per_purpose on data_keys (tenant_id, purpose);
  `);
  for (const table of ['tenant_master_keys', 'data_keys']) await isolateByTenant(knex, table, 'select, insert, update');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table data_keys, tenant_master_keys');
}
