import type { Knex } from 'knex';

/**
 * An account's sessions, ended ones included: a login asks whether the account signed in before
 * with the same browser from the same network (application/auth/sign-in-notice.ts), among the
 * sessions kept until maintenance prunes them. The partial index of live sessions cannot answer it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('create index sessions_account_history_idx on sessions (account_id, created_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index sessions_account_history_idx');
}
