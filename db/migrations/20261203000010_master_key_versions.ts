import type { Knex } from 'knex';

/**
 * Master keys get a version number per clinic (1, 2, …). The version names the key in the key
 * provider (KMS alias `alias/forclinic/<clinic>/v<n>`, local file `v<n>.key`), so creating
 * "version n of this clinic" is create-or-get: a retried activity finds the key its first
 * attempt made instead of making a second one. Versions are never reused, destroyed ones included.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table tenant_master_keys add column version integer;
    update tenant_master_keys k set version = n.version
      from (select id, row_number() over (partition by tenant_id order by created_at, id) as version from tenant_master_keys) n
      where n.id = k.id;
    alter table tenant_master_keys alter column version set not null;
    alter table tenant_master_keys add constraint tenant_master_keys_version_key unique (tenant_id, version);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table tenant_master_keys drop column version');
}
