import type { Knex } from 'knex';

/**
 * Which passkey a session presented (the second step of sign-in, finishing enrolment, or
 * re-authenticating with one). A stricter two-step rule keeps a session only while that very
 * passkey is still registered: removing it clears the reference (on delete set null), and any
 * other passkey of the account does not vouch for a session that never presented it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table sessions add column second_factor_credential_id uuid references webauthn_credentials(id) on delete set null;
    create index sessions_second_factor_credential_idx on sessions (second_factor_credential_id) where second_factor_credential_id is not null;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table sessions drop column second_factor_credential_id');
}
