import type { Knex } from 'knex';

/**
 * Rights on process areas: every access-list entry carries `read`, `write` or `manage`
 * (domain/process.ts). Existing entries keep what they could do until now, `write` (see, list,
 * download, upload); the creator's own entry, where it is still listed, becomes `manage`. Rows
 * written without a right from now on (an older API instance during a blue-green deploy) get
 * `read`, the least.
 *
 * Both tables force row-level security, which would hide every row from a migration owner that is
 * not a superuser; it is lifted for the backfill only, inside this migration's transaction.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table process_access add column access_right text not null default 'write'
      check (access_right in ('read', 'write', 'manage'));
    alter table process_access no force row level security;
    alter table processes no force row level security;
    update process_access a set access_right = 'manage'
      from processes p
      where p.id = a.process_id and a.principal_type = 'account' and a.principal_id = p.created_by;
    alter table process_access force row level security;
    alter table processes force row level security;
    alter table process_access alter column access_right set default 'read';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table process_access drop column access_right');
}
