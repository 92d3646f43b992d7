import type { Knex } from 'knex';

/**
 * Nobody but the owner creates objects next to the product's tables. PostgreSQL 15 and later
 * already give PUBLIC no CREATE on schema public; older servers did, which would let the
 * application's login create functions and tables beside ours (db/roles.ts refuses such a login).
 * A non-owner's REVOKE only warns, so this never fails a deployment.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('revoke create on schema public from public');
}

export async function down(): Promise<void> {
  // Nothing to restore: granting CREATE to everyone is never wanted.
}
