import type { Knex } from 'knex';

/**
 * `sessions.verified_at`: when the session last proved a password or a passkey (login, password
 * change, re-authentication, passkey assertion). Adding or removing a passkey needs a recent one.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`alter table sessions add column verified_at timestamptz not null default now()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`alter table sessions drop column verified_at`);
}
