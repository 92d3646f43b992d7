import type { Knex } from 'knex';
import { isolateByTenant } from './tenant-isolation';

/**
 * Login defences after the penetration test:
 * - `accounts.lockouts` counts an account's lockouts, so each lockout has an id of its own
 *   (the notice workflow `account-lockout/<account>/<n>` mails once per lockout);
 * - `login_failures` counts failures and locks login IDs that have no account, exactly as
 *   accounts are counted and locked, so the answers never tell which login IDs exist;
 * - `login_probes` records logins to unknown clinics and unknown login IDs, one row per clinic,
 *   source network and minute with a count.
 *
 * Both new tables are tenant-owned. Logins to clinics that do not exist are recorded under the
 * all-zero id, the scope login uses for them; it names no clinic, so these tables have no
 * foreign key to tenants (rows of a deleted clinic age out with the rest). Login IDs appear only
 * as HMACs (`LOGIN_ID_HMAC_KEY`), never in clear.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table accounts add column lockouts integer not null default 0;

    create table login_failures (
      tenant_id uuid not null,
      login_key text not null,
      failed_login_count integer not null default 0,
      last_failed_login_at timestamptz,
      locked_until timestamptz,
      lockouts integer not null default 0,
      primary key (tenant_id, login_key)
    );
    create index login_failures_last_idx on login_failures (last_failed_login_at);

    create table login_probes (
      tenant_id uuid not null,
      minute timestamptz not null,
      client_net text not null,
      attempts integer not null,
      login_id_hashes text[] not null default '{}',
      primary key (tenant_id, minute, client_net)
    );
    create index login_probes_minute_idx on login_probes (minute);
  `);
  await isolateByTenant(knex, 'login_failures', 'select, insert, update, delete');
  await isolateByTenant(knex, 'login_probes', 'select, insert, update, delete');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop table login_probes, login_failures;
    alter table accounts drop column lockouts;
  `);
}
