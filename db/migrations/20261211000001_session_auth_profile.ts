import type { Knex } from 'knex';

/**
 * session_auth() also returns the account's display name, e-mail address and passkey count, so
 * `GET /v1/me` answers from what authentication already read instead of opening a transaction
 * of its own (BEGIN, scope, two reads, COMMIT: five more round trips on every call). The count
 * is one probe of webauthn_credentials_account_idx, made only when a live session was found.
 * Everything else is as in 20261204000001_session_auth; a function's result columns cannot be
 * changed in place, hence drop and create (in the migration's transaction, so callers never see
 * it missing).
 */
const body = (profile: boolean) => `
    create function session_auth(p_tenant uuid, p_token_hash bytea)
    returns table (
      tenant_slug text, tenant_name text, tenant_status text, network_allowlist text[],
      session_id uuid, session_state text, last_seen_at timestamptz, idle_expires_at timestamptz, absolute_expires_at timestamptz,
      account_id uuid, login_id text, roles text[]${profile ? ', display_name text, email text, passkey_count integer' : ''}
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
               a.id, a.login_id, a.roles${
                 profile
                   ? `,
               a.display_name, a.email,
               case when a.id is null then null
                    else (select count(*)::integer from webauthn_credentials w where w.account_id = a.id) end`
                   : ''
               }
          from tenants t
          left join tenant_settings ts on ts.tenant_id = t.id
          left join (sessions s
                     join accounts a on a.id = s.account_id and a.tenant_id = s.tenant_id
                                    and a.deleted_at is null and not a.disabled)
            on s.tenant_id = t.id and s.token_hash = p_token_hash and s.revoked_at is null
         where t.id = p_tenant;
    end $$;
  `;

export async function up(knex: Knex): Promise<void> {
  await knex.raw('drop function session_auth(uuid, bytea)');
  await knex.raw(body(true));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function session_auth(uuid, bytea)');
  await knex.raw(body(false));
}
