import type { Knex } from 'knex';

/**
 * Each change of a clinic's contract end (set, moved, removed) counts up `contract_plan`, in the
 * change's transaction. The contract-end workflow keys its mails by it (and the step), so a run
 * started again for the same plan (one that was terminated, then woken by the next change) finds
 * the mails already sent instead of announcing the same end a second time; keyed by the run, it
 * did. A plan set again after a change (X → Y → X) is a new plan, told again.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table tenants add column contract_plan integer not null default 0');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table tenants drop column contract_plan');
}
