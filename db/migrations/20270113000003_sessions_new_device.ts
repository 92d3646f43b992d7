import type { Knex } from 'knex';

/**
 * Which sessions began as a sign-in from somewhere new (application/auth/sign-in-notice.ts): what
 * the notice was about, shown in the clinic's export, and what caps the notices at
 * SIGN_IN_NOTICES_PER_DAY per account, so that someone who holds a password cannot bury its
 * holder's mailbox (or our sending reputation) in notices by signing in with one made-up browser
 * after another.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table sessions add column new_device boolean not null default false');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table sessions drop column new_device');
}
