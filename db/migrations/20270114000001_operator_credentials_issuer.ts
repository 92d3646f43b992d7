import type { Knex } from 'knex';

/**
 * Whether an operator's current initial password (at creation or at the last reset) was issued
 * by someone holding `security`, break-glass or the host. Whoever issues it sees it and can sign
 * in as the operator until it is changed, so `security` is given only to an operator whose
 * credentials came from such a hand (application/operators/manage-operators.ts): a platform admin
 * without it reset an operator, signed in as them, and waited for a security holder to give them
 * the role (fourth look). Operators from before this are not known to qualify: a security holder
 * resets them before giving it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table operators add column credentials_issued_by_watcher boolean not null default false');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table operators drop column credentials_issued_by_watcher');
}
