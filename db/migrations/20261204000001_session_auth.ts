import type { Knex } from 'knex';

/**
 * Everything a request's authentication needs, in one round trip: the clinic (status, slug,
 * name), its allowlist, and the live session with its usable account (revoked sessions and
 * disabled or deleted accounts give no session columns). The function scopes its own statement
 * to the clinic (app.tenant_id, local to the statement's implicit transaction), so row-level
 * security applies as in withTenant; it runs with the caller's rights. Inside a transaction
 * already scoped to another clinic it refuses to run.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function session_auth(p_tenant uuid, p_token_hash bytea)
    returns table (
      tenant_slug text, tenant_name text, tenant_status text, network_allowlist text[],
      session_id uuid, session_state text, last_seen_at timestamptz, idle_expires_at timestamptz, absolute_expires_at timestamptz,
      account_id uuid, login_id text, roles text[]
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
               a.id, a.login_id, a.roles
          from tenants t
          left join tenant_settings ts on ts.tenant_id = t.id
          left join (sessions s
                     join accounts a on a.id = s.account_id and a.tenant_id = s.tenant_id
                                    and a.deleted_at is null and not a.disabled)
            on s.tenant_id = t.id and s.token_hash = p_token_hash and s.revoked_at is null
         where t.id = p_tenant;
    end $$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function session_auth(uuid, bytea)');
}
