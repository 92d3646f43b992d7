import type { Knex } from 'knex';

/**
 * Indexes a clinic's purge needs (README: Contract end).
 * - Referencing columns: deleting a patient makes PostgreSQL look for consultations that still
 *   reference it, deleting a consultation for its sealed payloads; without an index each lookup
 *   reads the whole table (every clinic's rows): a 100,000-patient purge never finished.
 * - tenant_id on the large tables that had no index starting with it: each purge batch finds
 *   its next rows by tenant_id, which would otherwise scan the table once per batch.
 * Built CONCURRENTLY, so a deployment does not block the service while they build (hence outside
 * a transaction).
 */
const INDEXES: Array<[name: string, on: string]> = [
  ['consultations_patient_idx', 'consultations (patient_id)'],
  ['consultation_payloads_consultation_idx', 'consultation_payloads (consultation_id)'],
  ['consultation_events_tenant_idx', 'consultation_events (tenant_id)'],
  ['sessions_tenant_idx', 'sessions (tenant_id)'],
  ['process_files_tenant_idx', 'process_files (tenant_id)'],
  ['notice_deliveries_tenant_idx', 'notice_deliveries (tenant_id)'],
];
export const config = { transaction: false };

export async function up(knex: Knex): Promise<void> {
  for (const [name, on] of INDEXES) await knex.raw(`create index concurrently if not exists ${name} on ${on}`);
}

export async function down(knex: Knex): Promise<void> {
  for (const [name] of [...INDEXES].reverse()) await knex.raw(`drop index concurrently if exists ${name}`);
}
