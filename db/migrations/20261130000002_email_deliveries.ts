import type { Knex } from 'knex';

/**
 * One row per e-mail the system means to send, keyed by an idempotency key derived from the
 * workflow that sends it, so a retried or replayed activity never sends the same mail twice.
 * One mail per recipient, so one bad address cannot hold back the others. Only the purpose is
 * stored, never the body or the address: bodies may one day carry patient data.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table email_deliveries (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      idempotency_key text not null,
      purpose text not null,
      status text not null default 'pending' check (status in ('pending', 'sent')),
      provider_message_id text,
      created_at timestamptz not null default now(),
      sent_at timestamptz,
      constraint email_deliveries_idempotency_key_key unique (idempotency_key)
    );
    create index email_deliveries_tenant_id_idx on email_deliveries (tenant_id, created_at);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table email_deliveries');
}
