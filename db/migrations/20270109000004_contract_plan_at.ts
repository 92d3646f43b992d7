import type { Knex } from 'knex';

/**
 * When the contract end was last set, moved or removed (beside `contract_plan`). A legal hold
 * lifted after it was lifted while this end stood, and its clinic is told the deletion date — by
 * whichever run is open, also one started by the lifting itself (a restart), which cannot tell
 * from its own clock whether the lifting came before or after the end was set.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table tenants add column contract_plan_at timestamptz');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table tenants drop column contract_plan_at');
}
