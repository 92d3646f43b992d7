import type { Knex } from 'knex';
import { isolateByTenant } from './tenant-isolation';

/**
 * Who asked for each action sent to a consultation's workflow, kept under the update's id before
 * the update is sent (application/consultations/consultation-actions.ts). The workflow's step
 * that records the action (activities/consultations.ts) writes the operation-log entry from it,
 * in the same transaction: an action the workflow applies is logged, naming the person, even
 * when the API stopped waiting for it (503 after its deadline, a lost connection) and never wrote
 * the entry itself. `logged_at` says the entry was written, by either side, so it is written once.
 * An update's id is only unique within its workflow (a keyed one is derived from the client's key,
 * which a clinic may use on several consultations): the consultation is part of the key.
 *
 * The request's audit context (account, roles, address, user agent, request id) stays in
 * PostgreSQL: nothing of it goes into Temporal's history. Rows go with their consultation
 * (purge by tenant_id); unanswered ones (refused or never applied) are deleted by maintenance.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table consultation_action_intents (
      tenant_id uuid not null references tenants (id),
      update_id text not null,
      consultation_id uuid not null references consultations (id),
      action text not null,
      context jsonb not null,
      created_at timestamptz not null default now(),
      logged_at timestamptz,
      primary key (tenant_id, consultation_id, update_id)
    );
    create index consultation_action_intents_unlogged_idx on consultation_action_intents (created_at) where logged_at is null;
  `);
  await isolateByTenant(knex, 'consultation_action_intents', 'select, insert, update, delete');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop table consultation_action_intents');
}
