import type { Knex } from 'knex';

/**
 * A notice mail sent again while an earlier attempt's outcome was unknown (activities/email.ts):
 * the recipient may hold two copies, the second marked "[再送 / Resent]". The operator sees it per
 * address in the incident view, so "exactly once" is never silently broken.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table notice_deliveries add column resent_in_doubt boolean not null default false');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table notice_deliveries drop column resent_in_doubt');
}
