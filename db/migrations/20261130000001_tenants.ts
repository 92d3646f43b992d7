import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table tenants (
      id uuid primary key default gen_random_uuid(),
      slug text not null,
      name text not null,
      contract_emails text[] not null,
      status text not null default 'provisioning'
        check (status in ('provisioning', 'active', 'suspended')),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint tenants_slug_key unique (slug),
      constraint tenants_contract_emails_not_empty check (cardinality(contract_emails) > 0)
    )
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table tenants');
}
