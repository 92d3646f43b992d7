import type { Knex } from 'knex';
import { isolateByTenant } from './tenant-isolation';

/**
 * Which request (action and body) an Idempotency-Key stood for, per consultation
 * (application/consultations/consultation-actions.ts). Temporal answers a repeated update id with
 * the first outcome, whatever the repeat carried; this row lets a repeat with a different body be
 * refused (409 idempotency_key_reused) instead of being answered as if it had been done.
 *
 * Hashes only: `key_hash` is SHA-256 of the client's key (as in the update id), `request_hash` an
 * HMAC of the request under that key, so clinical text is not fingerprinted in the clear. Rows go
 * with their consultation (the contract-end purge deletes them by tenant_id).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table consultation_action_keys (
      tenant_id uuid not null references tenants (id),
      consultation_id uuid not null references consultations (id),
      action text not null,
      key_hash text not null,
      request_hash text not null,
      created_at timestamptz not null default now(),
      primary key (tenant_id, consultation_id, key_hash)
    );
    create index consultation_action_keys_consultation_idx on consultation_action_keys (consultation_id);
  `);
  await isolateByTenant(knex, 'consultation_action_keys', 'select, insert');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table consultation_action_keys');
}
