import type { Knex } from 'knex';

/**
 * The desk's list of visits left open (GET /v1/consultations/outstanding): an index of the visits
 * that have not reached an end, in the list's order. Closed visits, nearly all of a clinic's
 * rows after a few years, are not in it, so the list never reads them.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create index consultations_outstanding_idx on consultations (tenant_id, starts_at, id)
      where status not in ('completed', 'cancelled', 'no_show')
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index consultations_outstanding_idx');
}
