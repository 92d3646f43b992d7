import type { Knex } from 'knex';
import { isolateByTenant } from './tenant-isolation';

/**
 * Full data exports of a clinic (README: Data export): one row per export, its state, where the
 * encrypted archive lies and until when. One export at a time per clinic: a partial unique index
 * on the running ones, so the database decides a race between two admins (409 export_running).
 * The application may insert and update rows, never delete them: the list is the clinic's
 * record of what left the service (the archive itself is deleted when it expires).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table data_exports (
      id uuid primary key,
      tenant_id uuid not null references tenants (id),
      workflow_id text not null,
      state text not null check (state in ('running', 'ready', 'failed', 'expired')),
      requested_by uuid references accounts (id),
      created_at timestamptz not null default now(),
      ready_at timestamptz,
      expires_at timestamptz,
      expired_at timestamptz,
      failed_at timestamptz,
      error text,
      object_key text,
      size_bytes bigint,
      sha256 text,
      summary jsonb
    );
    create unique index data_exports_one_running on data_exports (tenant_id) where state = 'running';
    create index data_exports_tenant_created on data_exports (tenant_id, created_at desc, id desc);
    -- A patient's consultations in order: the export's per-patient records (and any patient
    -- history screen) read them by patient; without it each patient scanned every consultation.
    -- It replaces the contract-end purge's index on patient_id alone, which it also serves.
    drop index if exists consultations_patient_idx;
    create index consultations_patient_idx on consultations (patient_id, starts_at);
  `);
  await isolateByTenant(knex, 'data_exports', 'select, insert, update');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table data_exports; drop index consultations_patient_idx; create index consultations_patient_idx on consultations (patient_id)');
}
