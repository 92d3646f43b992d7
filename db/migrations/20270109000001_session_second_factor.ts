import type { Knex } from 'knex';

/**
 * A session remembers when it presented a passkey (the second step of sign-in, finishing
 * enrolment, or re-authenticating with one), so that a stricter two-step rule ends only the
 * sessions that signed in with a password alone (application/settings/save-password-policy.ts).
 * Sessions open before this migration have no record and count as password-only: the rule
 * errs towards signing someone in again, never towards keeping a session it cannot vouch for.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table sessions add column second_factor_at timestamptz');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table sessions drop column second_factor_at');
}
