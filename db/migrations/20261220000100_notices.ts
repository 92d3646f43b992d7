import type { Knex } from 'knex';
import { APP_ROLE, isolateByTenant, platformOnly } from './tenant-isolation';

/**
 * Notices to clinics: security incidents, advance change notices and vulnerability notices
 * (db/notices.ts). Two kinds of rows, two kinds of isolation:
 *
 * - Platform rows (what operators declared, whom it targets, per-address delivery state, the
 *   operators' own operation log): visible only inside `withPlatform` (db/platform-scope.ts),
 *   which sets app.platform = 'on'. A query that forgot its scope sees nothing, as with clinic
 *   tables; a clinic's transaction never sets it.
 * - Clinic rows (`clinic_notices`: which notices reached the clinic; `notice_reads`;
 *   `incident_reports`): tenant-isolated like every clinic table.
 *
 * `notices` and `notice_messages` (title, body, updates: only what the operator typed) are also
 * readable by a clinic's transaction, but only the rows that reached that clinic (a
 * `clinic_notices` row, itself filtered by the clinic's scope) or vulnerability notices, which
 * are for everyone. So "a clinic never sees another clinic's incidents" holds in the database
 * even for SQL that asks for them by id.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create sequence notice_reference_incident;
    create sequence notice_reference_change;
    create sequence notice_reference_vulnerability;
    create sequence incident_report_reference;

    create table notices (
      id uuid primary key default gen_random_uuid(),
      kind text not null check (kind in ('incident', 'change', 'vulnerability')),
      reference text not null unique,
      title text not null,
      body text not null,
      severity text check (severity in ('low', 'medium', 'high', 'critical')),
      status text not null,
      detected_at timestamptz,
      effective_at timestamptz,
      urgent boolean not null default false,
      cve_ids text[] not null default '{}',
      component text,
      workflow_id text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      closed_at timestamptz,
      check (kind <> 'incident' or (severity is not null and detected_at is not null and status in ('investigating', 'contained', 'resolved'))),
      check (kind <> 'change' or (effective_at is not null and status in ('scheduled', 'effective', 'cancelled'))),
      check (kind <> 'vulnerability' or (severity is not null and status in ('investigating', 'mitigated', 'resolved')))
    );
    create index notices_kind_created_idx on notices (kind, created_at desc, id desc);

    -- Every message of a notice in order: the declaration, updates, reminders, a cancellation,
    -- a vulnerability's status changes (its timeline).
    create table notice_messages (
      id uuid primary key default gen_random_uuid(),
      notice_id uuid not null references notices (id),
      seq integer not null,
      kind text not null check (kind in ('initial', 'update', 'reminder', 'cancellation', 'status')),
      status text,
      body text,
      -- Makes a workflow's creation of a reminder idempotent (one per lead time).
      dedupe_key text,
      created_at timestamptz not null default now(),
      unique (notice_id, seq),
      unique (notice_id, dedupe_key)
    );

    -- The clinics a notice is for, numbered in the order they were added: fan-out batches are
    -- ranges of added_seq, so a clinic added later is a range of its own.
    create table notice_targets (
      notice_id uuid not null references notices (id),
      tenant_id uuid not null references tenants (id),
      added_seq bigint generated always as identity,
      added_at timestamptz not null default now(),
      primary key (notice_id, tenant_id)
    );
    create index notice_targets_seq_idx on notice_targets (notice_id, added_seq);

    -- One row per message, clinic and contract address: what the operator's screen shows. The
    -- mail itself goes through email_deliveries (exactly once per row, keyed by this row's id).
    create table notice_deliveries (
      id uuid primary key default gen_random_uuid(),
      notice_id uuid not null references notices (id),
      message_id uuid not null references notice_messages (id),
      tenant_id uuid not null references tenants (id),
      address text not null,
      status text not null default 'pending' check (status in ('pending', 'sent', 'failed')),
      error text,
      attempts integer not null default 0,
      sent_at timestamptz,
      failed_at timestamptz,
      updated_at timestamptz not null default now(),
      unique (message_id, tenant_id, address)
    );
    create index notice_deliveries_notice_idx on notice_deliveries (notice_id, tenant_id);

    -- Operators' actions that belong to no one clinic (declaring an incident for many, a
    -- vulnerability notice for all): append-only for the application, like audit_events.
    create table platform_audit_events (
      id uuid primary key default gen_random_uuid(),
      occurred_at timestamptz not null default clock_timestamp(),
      actor_type text not null check (actor_type in ('account', 'operator', 'system', 'anonymous')),
      actor_id text,
      actor_roles text[] not null default '{}',
      client_ip inet,
      user_agent text,
      request_id text,
      action text not null,
      outcome text not null check (outcome in ('success', 'denied', 'failed')),
      target_type text,
      target_id text,
      details jsonb not null default '{}'
    );
    create index platform_audit_events_time_idx on platform_audit_events (occurred_at);

    create table clinic_notices (
      tenant_id uuid not null references tenants (id),
      notice_id uuid not null references notices (id),
      reached_at timestamptz not null default now(),
      primary key (tenant_id, notice_id)
    );
    create index clinic_notices_notice_idx on clinic_notices (notice_id);

    create table notice_reads (
      tenant_id uuid not null references tenants (id),
      account_id uuid not null,
      notice_id uuid not null references notices (id),
      read_at timestamptz not null default now(),
      primary key (tenant_id, account_id, notice_id)
    );

    create table incident_reports (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      reference text not null unique,
      account_id uuid not null,
      description text not null,
      contact text not null,
      created_at timestamptz not null default now()
    );
  `);
  await isolateByTenant(knex, 'clinic_notices', 'select, insert, update');
  await isolateByTenant(knex, 'notice_reads', 'select, insert, update');
  await isolateByTenant(knex, 'incident_reports', 'select, insert');
  await platformOnly(knex, 'notice_targets', 'select, insert');
  await platformOnly(knex, 'notice_deliveries', 'select, insert, update');
  await platformOnly(knex, 'platform_audit_events', 'select, insert');
  await platformOnly(knex, 'notices', 'select, insert, update');
  await platformOnly(knex, 'notice_messages', 'select, insert');
  await knex.raw(`
    create policy clinic_reads on notices for select to ${APP_ROLE}
      using (nullif(current_setting('app.tenant_id', true), '') is not null
             and (kind = 'vulnerability' or exists (select 1 from clinic_notices c where c.notice_id = notices.id)));
    create policy clinic_reads on notice_messages for select to ${APP_ROLE}
      using (exists (select 1 from notices n where n.id = notice_messages.notice_id));
    grant usage on sequence notice_reference_incident, notice_reference_change, notice_reference_vulnerability,
      incident_report_reference to ${APP_ROLE};
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop table incident_reports, notice_reads, clinic_notices, platform_audit_events, notice_deliveries, notice_targets,
      notice_messages, notices;
    drop sequence notice_reference_incident, notice_reference_change, notice_reference_vulnerability, incident_report_reference;
  `);
}
