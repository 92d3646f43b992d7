import type { Knex } from 'knex';
import { APP_ROLE } from './tenant-isolation';

/**
 * The workflow outbox: a workflow start or signal that belongs to a database change is written
 * here in the same transaction as that change, and sent to Temporal only after commit (by the
 * request that made it, else by the sweeper). A rolled-back change therefore never has a
 * workflow, and a committed one always gets its workflow, however the process dies.
 *
 * Rows carry ids only (workflow inputs must never hold clinical or personal text). The table is
 * platform-wide, not tenant-isolated: the sweeper dispatches every clinic's rows. `seq` orders
 * signals to one workflow; `claimed_until` is a short lease so two dispatchers rarely send the
 * same row (a duplicate is harmless: starts are idempotent by id, signals are idempotent facts).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table workflow_outbox (
      id uuid primary key default gen_random_uuid(),
      seq bigint generated always as identity,
      tenant_id uuid references tenants (id) on delete set null,
      kind text not null check (kind in ('start', 'signal', 'signal_with_start')),
      workflow_id text not null check (length(workflow_id) <= 255),
      workflow_type text,
      task_queue text,
      args jsonb not null default '[]',
      signal_name text,
      signal_args jsonb not null default '[]',
      search_attributes jsonb not null default '{}',
      created_at timestamptz not null default now(),
      claimed_until timestamptz,
      -- Failed sends so far (the back-off grows with it).
      attempts integer not null default 0,
      last_error text,
      dispatched_at timestamptz,
      outcome text check (outcome in ('started', 'already_started', 'signalled', 'workflow_gone')),
      check ((kind = 'signal') = (workflow_type is null)),
      check ((kind = 'start') = (signal_name is null))
    );
    -- What the sweeper reads: undispatched rows, oldest first.
    create index workflow_outbox_pending_idx on workflow_outbox (seq) where dispatched_at is null;
    create index workflow_outbox_workflow_idx on workflow_outbox (workflow_id, seq) where dispatched_at is null;
    create index workflow_outbox_dispatched_idx on workflow_outbox (dispatched_at) where dispatched_at is not null;
    grant select, insert, update, delete on workflow_outbox to ${APP_ROLE};
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table workflow_outbox');
}
