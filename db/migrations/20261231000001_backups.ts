import type { Knex } from 'knex';
import { APP_ROLE } from './tenant-isolation';

/**
 * Backups (README: Backups): one row per generation, its verifications and restore tests, and
 * the operators' own operation log (actions on the platform rather than on a clinic, so they
 * cannot go into a clinic's hash chain in audit_events).
 *
 * These are platform rows without a clinic. Row-level security shows them only to sessions
 * outside any clinic's scope: inside withTenant (app.tenant_id set) they do not exist, so no
 * clinic-scoped query can reach them even by mistake. operator_actions is append-only for the
 * application, like audit_events.
 */
const PLATFORM_ONLY = `coalesce(current_setting('app.tenant_id', true), '') = ''`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table backup_generations (
      id uuid primary key,
      workflow_id text not null,
      trigger text not null check (trigger in ('schedule', 'operator')),
      state text not null check (state in ('running', 'written', 'verified', 'failed', 'pruned')),
      started_at timestamptz not null default now(),
      finished_at timestamptz,
      store text not null,
      size_bytes bigint,
      key_id text,
      manifest jsonb,
      error text,
      failure_mailed_at timestamptz
    );
    -- One backup at a time: a second start while one runs is refused (409) or skipped.
    create unique index backup_generations_one_running on backup_generations ((true)) where state = 'running';
    create index backup_generations_started on backup_generations (started_at desc);

    create table backup_verifications (
      id uuid primary key,
      generation_id uuid not null references backup_generations (id) on delete cascade,
      workflow_id text not null,
      checked_at timestamptz not null default now(),
      ok boolean not null,
      problems jsonb not null default '[]',
      failure_mailed_at timestamptz,
      unique (workflow_id, generation_id)
    );
    create index backup_verifications_generation on backup_verifications (generation_id, checked_at desc);

    create table backup_restore_tests (
      id uuid primary key,
      generation_id uuid not null references backup_generations (id) on delete cascade,
      workflow_id text not null,
      trigger text not null check (trigger in ('schedule', 'operator')),
      state text not null check (state in ('running', 'passed', 'failed')),
      started_at timestamptz not null default now(),
      finished_at timestamptz,
      duration_ms integer,
      tables jsonb,
      error text,
      failure_mailed_at timestamptz
    );
    create index backup_restore_tests_generation on backup_restore_tests (generation_id, started_at desc);

    create table operator_actions (
      id bigint generated always as identity primary key,
      at timestamptz not null default now(),
      action text not null,
      target_type text,
      target_id text,
      client_ip text,
      user_agent text,
      request_id text,
      details jsonb not null default '{}'
    );
  `);
  for (const [table, grants] of [
    ['backup_generations', 'select, insert, update'],
    ['backup_verifications', 'select, insert, update'],
    ['backup_restore_tests', 'select, insert, update'],
    ['operator_actions', 'select, insert'],
  ] as const) {
    await knex.raw(`
      alter table ${table} enable row level security;
      alter table ${table} force row level security;
      create policy platform_only on ${table} to ${APP_ROLE} using (${PLATFORM_ONLY}) with check (${PLATFORM_ONLY});
      grant ${grants} on ${table} to ${APP_ROLE};
    `);
  }
  await knex.raw(`grant usage on all sequences in schema public to ${APP_ROLE}`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table operator_actions, backup_restore_tests, backup_verifications, backup_generations');
}
