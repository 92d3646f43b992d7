import type { Knex } from 'knex';
import { isolateByTenant } from './tenant-isolation';

/**
 * Sealed clinical content (questionnaire answers, the note, prescriptions, a cancel reason) on
 * its way into a consultation. The API seals it and stores it here; the workflow update carries
 * only this row's id, so Temporal's history stays small and never holds clinical content, even
 * encrypted. The activity that records the accepted action moves the ciphertext into the
 * consultation and deletes the row in one transaction; a refused action's row is deleted by the
 * API, and maintenance removes any left behind by a crash.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table consultation_payloads (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      consultation_id uuid not null references consultations (id),
      field text not null check (field in ('questionnaire', 'note', 'prescriptions', 'cancelReason')),
      sealed bytea not null,
      created_at timestamptz not null default now()
    );
    create index consultation_payloads_created_idx on consultation_payloads (tenant_id, created_at);
  `);
  await isolateByTenant(knex, 'consultation_payloads', 'select, insert, delete');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table consultation_payloads');
}
