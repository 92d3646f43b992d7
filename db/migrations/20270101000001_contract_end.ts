import type { Knex } from 'knex';
import { APP_ROLE, ensureGroupRoleSql, PURGE_ROLE, purgeableByContractEnd } from './tenant-isolation';

/**
 * Contract end (README: Contract end).
 *
 * - tenants: the contract's end, its state (active → ending → read_only → purging → purged) and a
 *   legal hold. A purged clinic keeps its row as a tombstone (id, slug, state): its name and
 *   contract addresses are erased, hence the relaxed address constraint.
 * - session_auth() also returns the contract state and end, so read-only enforcement costs no
 *   extra round trip (everything else as in 20261211000001_session_auth_profile).
 * - deletion_certificates: a platform table (no tenant_id column, so it survives the purge and
 *   holds only the clinic's id and slug), visible only outside any clinic's scope.
 * - forclinic_purge: the group role of the purge's own login (PURGE_DATABASE_URL). It may read
 *   and delete the rows of the one clinic in app.tenant_id in every table with a tenant_id —
 *   including the operation log, which the application's role can never delete — and nothing
 *   else: no insert, no update, no ownership.
 */
/** `generation`: as 20270111000001_session_auth_generation makes it, with the clinic's authentication generation. */
export const SESSION_AUTH = (contract: boolean, generation = false) => `
    create function session_auth(p_tenant uuid, p_token_hash bytea)
    returns table (
      tenant_slug text, tenant_name text, tenant_status text, network_allowlist text[],
      session_id uuid, session_state text, last_seen_at timestamptz, idle_expires_at timestamptz, absolute_expires_at timestamptz,
      account_id uuid, login_id text, roles text[], display_name text, email text, passkey_count integer${contract ? ', contract_state text, contract_ends_at timestamptz' : ''}${generation ? ', auth_generation bigint' : ''}
    ) language plpgsql volatile as $$
    #variable_conflict use_column
    begin
      if coalesce(nullif(current_setting('app.tenant_id', true), ''), p_tenant::text) <> p_tenant::text then
        raise exception 'session_auth: another clinic is in scope';
      end if;
      perform set_config('app.tenant_id', p_tenant::text, true);
      return query
        select t.slug, t.name, t.status, coalesce(ts.network_allowlist, '{}'),
               s.id, s.state, s.last_seen_at, s.idle_expires_at, s.absolute_expires_at,
               a.id, a.login_id, a.roles,
               a.display_name, a.email,
               case when a.id is null then null
                    else (select count(*)::integer from webauthn_credentials w where w.account_id = a.id) end${contract ? ',\n               t.contract_state, t.contract_ends_at' : ''}${generation ? ', g.generation' : ''}
          from tenants t
          left join tenant_settings ts on ts.tenant_id = t.id${generation ? '\n          left join auth_generations g on g.tenant_id = t.id' : ''}
          left join (sessions s
                     join accounts a on a.id = s.account_id and a.tenant_id = s.tenant_id
                                    and a.deleted_at is null and not a.disabled)
            on s.tenant_id = t.id and s.token_hash = p_token_hash and s.revoked_at is null
         where t.id = p_tenant;
    end $$;
  `;

const PLATFORM_ONLY = `coalesce(current_setting('app.tenant_id', true), '') = ''`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table tenants
      add column contract_ends_at timestamptz,
      add column contract_state text not null default 'active'
        check (contract_state in ('active', 'ending', 'read_only', 'purging', 'purged')),
      add column legal_hold_reason text,
      add column legal_hold_at timestamptz,
      drop constraint tenants_contract_emails_not_empty,
      add constraint tenants_contract_emails_not_empty check (cardinality(contract_emails) > 0 or contract_state = 'purged');

    create table deletion_certificates (
      clinic_id uuid primary key,
      clinic_slug text not null,
      workflow_id text not null,
      run_id text not null,
      state text not null check (state in ('purging', 'issued')),
      started_at timestamptz not null default now(),
      counted jsonb not null,
      objects jsonb not null default '{"count": 0, "bytes": 0}',
      key_ids jsonb not null,
      issued_at timestamptz,
      certificate jsonb,
      sha256 text,
      signature text,
      mailed_at timestamptz
    );
    alter table deletion_certificates enable row level security;
    alter table deletion_certificates force row level security;
    create policy platform_only on deletion_certificates to ${APP_ROLE} using (${PLATFORM_ONLY}) with check (${PLATFORM_ONLY});
    grant select, insert, update on deletion_certificates to ${APP_ROLE};
  `);
  await knex.raw('drop function session_auth(uuid, bytea)');
  await knex.raw(SESSION_AUTH(true));
  await knex.raw(ensureGroupRoleSql(PURGE_ROLE));
  const { rows } = await knex.raw<{ rows: Array<{ table: string }> }>(`
    select c.table_name as table from information_schema.columns c
      join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name and t.table_type = 'BASE TABLE'
     where c.table_schema = 'public' and c.column_name = 'tenant_id' order by 1`);
  for (const { table } of rows) await purgeableByContractEnd(knex, table);
}

export async function down(knex: Knex): Promise<void> {
  const { rows } = await knex.raw<{ rows: Array<{ table: string }> }>(
    `select tablename as table from pg_policies where schemaname = 'public' and policyname = 'contract_purge'`,
  );
  for (const { table } of rows) await knex.raw(`drop policy contract_purge on ${table}; revoke all on ${table} from ${PURGE_ROLE};`);
  await knex.raw('drop function session_auth(uuid, bytea)');
  await knex.raw(SESSION_AUTH(false));
  await knex.raw(`
    drop table deletion_certificates;
    alter table tenants drop constraint tenants_contract_emails_not_empty;
    alter table tenants add constraint tenants_contract_emails_not_empty check (cardinality(contract_emails) > 0);
    alter table tenants drop column contract_ends_at, drop column contract_state, drop column legal_hold_reason, drop column legal_hold_at;
  `);
}
