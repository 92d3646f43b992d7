import type { Knex } from 'knex';

/**
 * Access-list entries of deleted accounts and groups are removed: since this migration a deletion
 * takes its entries with it (db/processes.ts removePrincipalAccess), but earlier deletions left
 * them, and an area whose list held one could not be saved again as it was answered (404 for the
 * dead id). Such an entry gave nobody anything, so nothing anyone may do changes.
 *
 * The three tables force row-level security, which would hide every row from a migration owner
 * that is not a superuser; it is lifted for the clean-up only, inside this migration's transaction.
 */
const TABLES = ['process_access', 'groups', 'accounts'];

export async function up(knex: Knex): Promise<void> {
  for (const table of TABLES) await knex.raw(`alter table ${table} no force row level security`);
  await knex.raw(`
    delete from process_access a
     where (a.principal_type = 'group' and not exists (select 1 from groups g where g.id = a.principal_id))
        or (a.principal_type = 'account' and not exists (select 1 from accounts c where c.id = a.principal_id and c.deleted_at is null))
  `);
  for (const table of TABLES) await knex.raw(`alter table ${table} force row level security`);
}

export async function down(): Promise<void> {
  // The removed entries named no one who exists; there is nothing to put back.
}
