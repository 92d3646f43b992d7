import type { Knex } from 'knex';
import { APP_ROLE, isolateByTenant } from './tenant-isolation';

/**
 * Denied attempts, aggregated: one row per (clinic, kind, minute, source network) with a count,
 * so however hard someone knocks the table grows by at most one row per source and minute and
 * kind. Upserted in one statement, so several API processes add to the same row.
 *
 * `tenant_id` is the clinic the attempt was about, or the all-zero id (NO_CLINIC) when none is
 * known (a wrong operator token, a login to a clinic that does not exist); like login_probes the
 * table therefore has no foreign key to tenants. `account_ids` (who, when signed in) and `routes`
 * (route templates, never the ids in them) keep at most 10 distinct entries each.
 *
 * Clinics read their own rows through row-level security as usual. Operators read every clinic's
 * rows: a second, select-only policy lets a transaction that sets `app.security_overview` see the
 * rows of all clinics, of this table only (db/security-events.ts listAllSecurityEvents). It is no
 * wider than app.tenant_id itself, which the application sets to any clinic it serves.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table security_events (
      id uuid not null default gen_random_uuid() unique,
      tenant_id uuid not null,
      kind text not null check (kind in ('not_found', 'forbidden', 'ip_denied', 'operator_token', 'unknown_clinic_login')),
      minute timestamptz not null,
      client_net text not null,
      attempts integer not null check (attempts > 0),
      account_ids uuid[] not null default '{}' check (cardinality(account_ids) <= 10),
      routes text[] not null default '{}' check (cardinality(routes) <= 10),
      primary key (tenant_id, kind, minute, client_net)
    );
    -- Newest first within a clinic (its screen), and across clinics (the operators').
    create index security_events_clinic_page_idx on security_events (tenant_id, minute desc, id desc);
    create index security_events_page_idx on security_events (minute desc, id desc);
  `);
  await isolateByTenant(knex, 'security_events', 'select, insert, update, delete');
  await knex.raw(`
    create policy operator_overview on security_events for select to ${APP_ROLE}
      using (current_setting('app.security_overview', true) = 'on');
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table security_events');
}
