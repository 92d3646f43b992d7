import type { Knex } from 'knex';

/**
 * When the clinic's last legal hold was lifted. A hold keeps the data past its deletion date and
 * the mails meanwhile name none; lifting it must not delete the data at once, unannounced. The
 * purge waits until `CONTRACT_HOLD_RELEASE_NOTICE_SECONDS` after the lifting, and the clinic is told
 * the new date (README: Contract end).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table tenants add column legal_hold_lifted_at timestamptz');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table tenants drop column legal_hold_lifted_at');
}
