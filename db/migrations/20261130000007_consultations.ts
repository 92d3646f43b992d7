import type { Knex } from 'knex';
import { isolateByTenant } from './tenant-isolation';

/**
 * Patients, practitioners with weekly availability, and consultations. Personal data and
 * clinical content are stored sealed (bytea, see lib/crypto/vault.ts); searchable values also
 * get blind-index tokens. A slot can be booked once: a partial unique index on
 * (practitioner, start) among live consultations, so the database, not a check-then-insert,
 * decides races.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table patients (
      id uuid primary key,
      tenant_id uuid not null references tenants (id),
      patient_number text not null,
      name_sealed bytea not null,
      kana_sealed bytea not null,
      birth_date_sealed bytea not null,
      phone_sealed bytea,
      email_sealed bytea,
      address_sealed bytea,
      name_token text not null,
      kana_prefix_tokens text[] not null,
      birth_date_token text not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint patients_number_key unique (tenant_id, patient_number)
    );
    create index patients_name_token_idx on patients (tenant_id, name_token);
    create index patients_birth_token_idx on patients (tenant_id, birth_date_token);
    create index patients_kana_tokens_idx on patients using gin (kana_prefix_tokens);

    create table practitioners (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      account_id uuid references accounts (id),
      display_name text not null,
      slot_minutes integer not null check (slot_minutes between 5 and 240),
      modes text[] not null check (modes <@ array['in_person', 'online']::text[] and cardinality(modes) > 0),
      created_at timestamptz not null default now()
    );

    -- Wall-clock times in the clinic's time zone (Japan: UTC+9, no daylight saving).
    create table availability_rules (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      practitioner_id uuid not null references practitioners (id) on delete cascade,
      weekday smallint not null check (weekday between 0 and 6),
      start_time time not null,
      end_time time not null check (end_time > start_time)
    );
    create table availability_exceptions (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      practitioner_id uuid not null references practitioners (id) on delete cascade,
      date date not null,
      kind text not null check (kind in ('closed', 'open')),
      start_time time,
      end_time time,
      check ((kind = 'closed' and start_time is null and end_time is null) or (kind = 'open' and end_time > start_time))
    );

    create table consultations (
      id uuid primary key,
      tenant_id uuid not null references tenants (id),
      patient_id uuid not null references patients (id),
      practitioner_id uuid not null references practitioners (id),
      starts_at timestamptz not null,
      ends_at timestamptz not null,
      mode text not null check (mode in ('in_person', 'online')),
      status text not null check (status in ('reserved', 'checked_in', 'waiting', 'in_consultation', 'finished', 'paid', 'completed', 'cancelled', 'no_show')),
      workflow_id text not null,
      idempotency_key text,
      questionnaire_sealed bytea,
      note_sealed bytea,
      prescriptions_sealed bytea,
      payment_amount integer,
      payment_method text,
      cancel_reason_sealed bytea,
      created_by uuid references accounts (id),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint consultations_idempotency_key unique (tenant_id, idempotency_key)
    );
    create unique index consultations_slot_key on consultations (practitioner_id, starts_at) where status not in ('cancelled', 'no_show');
    create index consultations_day_idx on consultations (tenant_id, starts_at);

    create table consultation_events (
      id bigserial primary key,
      tenant_id uuid not null references tenants (id),
      consultation_id uuid not null references consultations (id),
      event_key text not null,
      type text not null,
      status text not null,
      occurred_at timestamptz not null default clock_timestamp(),
      details jsonb not null default '{}',
      constraint consultation_events_key unique (consultation_id, event_key)
    );
  `);
  for (const table of ['patients', 'practitioners', 'availability_rules', 'availability_exceptions', 'consultations', 'consultation_events']) {
    await isolateByTenant(knex, table, 'select, insert, update, delete');
  }
  await knex.raw('grant usage on all sequences in schema public to forclinic_app');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table consultation_events, consultations, availability_exceptions, availability_rules, practitioners, patients');
}
