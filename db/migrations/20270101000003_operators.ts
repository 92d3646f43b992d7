import type { Knex } from 'knex';
import { platformOnly } from './tenant-isolation';

/**
 * Operators as named people (README: Operators): their accounts, sessions, passkeys and the
 * passkey ceremonies' challenges, the automation keys a platform admin hands out, and the
 * break-glass token's uses aggregated per alert window.
 *
 * All of them are platform rows: visible only inside `withPlatform` (app.platform = 'on', like
 * notices), never to a clinic's transaction, and a query that forgot its scope sees nothing.
 * Tokens and keys are stored as SHA-256 hashes only (like clinic sessions), passwords as argon2id.
 * The application may not delete operators, sessions or keys: they are disabled, revoked or
 * expired, so what an operator or a key did can always be traced to a row.
 *
 * Failed operator logins become a security event kind of their own (`operator_login`).
 */
const SESSION_STATES = `'active', 'password_change_required', 'second_factor_enrollment_required', 'second_factor_required'`;
const ROLES = `array['viewer', 'support', 'security', 'platform-admin']::text[]`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table operators (
      id uuid primary key default gen_random_uuid(),
      email text not null,
      name text not null check (length(name) between 1 and 200),
      roles text[] not null check (cardinality(roles) > 0 and roles <@ ${ROLES}),
      state text not null default 'active' check (state in ('active', 'disabled')),
      password_hash text not null,
      password_is_initial boolean not null default true,
      initial_password_expires_at timestamptz,
      password_changed_at timestamptz not null default now(),
      failed_login_count integer not null default 0,
      last_failed_login_at timestamptz,
      locked_until timestamptz,
      lockouts integer not null default 0,
      -- The last lockout whose notice went out (operator-lockout/<id>/<n> mails once per lockout).
      lockout_notified integer not null default 0,
      last_login_at timestamptz,
      created_by text not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );
    create unique index operators_email_key on operators (lower(email));

    create table operator_sessions (
      id uuid primary key default gen_random_uuid(),
      operator_id uuid not null references operators (id),
      token_hash bytea not null unique,
      state text not null check (state in (${SESSION_STATES})),
      client_ip text,
      user_agent text,
      created_at timestamptz not null default now(),
      last_seen_at timestamptz not null default now(),
      verified_at timestamptz not null default now(),
      idle_expires_at timestamptz not null,
      absolute_expires_at timestamptz not null,
      revoked_at timestamptz
    );
    create index operator_sessions_operator_idx on operator_sessions (operator_id) where revoked_at is null;

    create table operator_passkeys (
      id uuid primary key default gen_random_uuid(),
      operator_id uuid not null references operators (id),
      credential_id text not null unique,
      public_key bytea not null,
      counter bigint not null default 0,
      transports text[] not null default '{}',
      device_type text not null,
      backed_up boolean not null,
      name text not null,
      created_at timestamptz not null default now(),
      last_used_at timestamptz
    );
    create index operator_passkeys_operator_idx on operator_passkeys (operator_id, created_at);

    create table operator_webauthn_challenges (
      session_id uuid not null references operator_sessions (id) on delete cascade,
      purpose text not null check (purpose in ('registration', 'authentication')),
      challenge text not null,
      expires_at timestamptz not null,
      primary key (session_id, purpose)
    );

    create table operator_api_keys (
      id uuid primary key default gen_random_uuid(),
      name text not null check (length(name) between 1 and 100),
      roles text[] not null check (cardinality(roles) > 0 and roles <@ ${ROLES}),
      token_hash bytea not null unique,
      -- The first characters of the key (after its prefix), so a leaked key can be matched to its row.
      hint text not null,
      created_by text not null,
      created_at timestamptz not null default now(),
      expires_at timestamptz not null,
      revoked_at timestamptz,
      revoked_by text,
      last_used_at timestamptz,
      last_used_ip text
    );
    create index operator_api_keys_created_idx on operator_api_keys (created_at desc);

    -- One row per alert window: the first use of the window starts its mail, later ones only count.
    create table break_glass_uses (
      window_start timestamptz primary key,
      -- Names the window's alert workflow (break-glass-alert/<id>): unique to this database.
      id uuid not null default gen_random_uuid() unique,
      uses integer not null check (uses > 0),
      first_at timestamptz not null default now(),
      last_at timestamptz not null default now(),
      first_ip text,
      routes text[] not null default '{}' check (cardinality(routes) <= 10),
      mailed_at timestamptz
    );

    alter table security_events drop constraint security_events_kind_check;
    alter table security_events add constraint security_events_kind_check
      check (kind in ('not_found', 'forbidden', 'ip_denied', 'operator_token', 'unknown_clinic_login', 'operator_login'));
  `);
  await platformOnly(knex, 'operators', 'select, insert, update');
  await platformOnly(knex, 'operator_sessions', 'select, insert, update');
  await platformOnly(knex, 'operator_passkeys', 'select, insert, update, delete');
  await platformOnly(knex, 'operator_webauthn_challenges', 'select, insert, update, delete');
  await platformOnly(knex, 'operator_api_keys', 'select, insert, update');
  await platformOnly(knex, 'break_glass_uses', 'select, insert, update');
  // Authentication of every operator request in one round trip each, like session_auth: the
  // functions scope their own statement to the platform (app.platform, local to its implicit
  // transaction), run with the caller's rights (row-level security applies), and refuse to run
  // inside a clinic's transaction. The API key's last use is written at most once a minute per
  // address; a session's idle deadline is extended at most once a minute, never past its end.
  await knex.raw(`
    create function operator_key_auth(p_token_hash bytea, p_client_ip text)
    returns table (id uuid, name text, roles text[]) language plpgsql volatile as $$
    #variable_conflict use_column
    begin
      if nullif(current_setting('app.tenant_id', true), '') is not null then
        raise exception 'operator_key_auth: a clinic is in scope';
      end if;
      perform set_config('app.platform', 'on', true);
      return query
        with live as (
          select k.id, k.name, k.roles, k.last_used_at, k.last_used_ip
            from operator_api_keys k
           where k.token_hash = p_token_hash and k.revoked_at is null and k.expires_at > now()
        ), touched as (
          update operator_api_keys k
             set last_used_at = now(), last_used_ip = p_client_ip
            from live
           where k.id = live.id
             and (live.last_used_at is null or live.last_used_at < now() - interval '1 minute' or live.last_used_ip is distinct from p_client_ip)
        )
        select live.id, live.name, live.roles from live;
    end $$;

    create function operator_session_auth(p_token_hash bytea, p_idle_seconds integer)
    returns table (session_id uuid, state text, verified_at timestamptz, operator_id uuid, name text, roles text[])
    language plpgsql volatile as $$
    #variable_conflict use_column
    begin
      if nullif(current_setting('app.tenant_id', true), '') is not null then
        raise exception 'operator_session_auth: a clinic is in scope';
      end if;
      perform set_config('app.platform', 'on', true);
      return query
        with live as (
          select s.id, s.last_seen_at, s.absolute_expires_at
            from operator_sessions s
            join operators o on o.id = s.operator_id and o.state = 'active'
           where s.token_hash = p_token_hash and s.revoked_at is null
             and s.idle_expires_at > now() and s.absolute_expires_at > now()
        ), touched as (
          update operator_sessions s
             set last_seen_at = now(),
                 idle_expires_at = least(now() + make_interval(secs => p_idle_seconds), s.absolute_expires_at)
            from live
           where s.id = live.id and live.last_seen_at < now() - interval '1 minute'
        )
        select s.id, s.state, s.verified_at, o.id, o.name, o.roles
          from live
          join operator_sessions s on s.id = live.id
          join operators o on o.id = s.operator_id;
    end $$;
  `);
  // `npm run operator` (scripts/operator.ts) runs on the host as the tables' owner, to create the
  // first operator before anyone can sign in. The owner could switch row-level security off on
  // its own tables anyway; these policies only let it work through it where a superuser is not
  // used as the owner (forced row-level security applies to owners too).
  for (const table of ['operators', 'operator_sessions', 'operator_passkeys', 'platform_audit_events']) {
    await knex.raw(`create policy owner_bootstrap on ${table} to current_user using (true) with check (true)`);
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop function operator_key_auth(bytea, text), operator_session_auth(bytea, integer);
    drop policy owner_bootstrap on platform_audit_events;
    delete from security_events where kind = 'operator_login';
    alter table security_events drop constraint security_events_kind_check;
    alter table security_events add constraint security_events_kind_check
      check (kind in ('not_found', 'forbidden', 'ip_denied', 'operator_token', 'unknown_clinic_login'));
    drop table break_glass_uses, operator_api_keys, operator_webauthn_challenges, operator_passkeys, operator_sessions, operators;
  `);
}
