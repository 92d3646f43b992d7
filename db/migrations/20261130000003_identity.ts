import type { Knex } from 'knex';
import { APP_ROLE, isolateByTenant } from './tenant-isolation';

/**
 * Identity and access: accounts, sessions, groups, per-clinic settings, passkeys, the security
 * part of the operation log, and login rate limits.
 *
 * Isolation is defended twice. The application reaches tenant-owned rows only through
 * withTenant() (db/tenant-scope.ts), and the application logs in as a role that inherits
 * forclinic_app (db/roles.ts), for which row-level security hides all rows whose tenant_id is not
 * the transaction's app.tenant_id. A query that forgot its scope therefore returns nothing.
 */

const TENANT_OWNED = [
  'accounts',
  'password_history',
  'sessions',
  'groups',
  'group_members',
  'tenant_settings',
  'webauthn_credentials',
  'webauthn_challenges',
  'audit_events',
  'email_deliveries',
];

export async function up(knex: Knex): Promise<void> {
  // Roles are cluster-wide; parallel migrations of several databases may race to create it.
  // Created only when missing, so a role without CREATEROLE (the restore test's, which builds a
  // scratch copy of the schema on a server where the role exists) can run this migration too.
  await knex.raw(`
    do $$ begin
      if not exists (select 1 from pg_roles where rolname = '${APP_ROLE}') then
        create role ${APP_ROLE} nologin;
      end if;
    exception when duplicate_object or unique_violation then null;
    end $$;
  `);
  await knex.raw(`
    do $$ begin
      execute format('grant ${APP_ROLE} to %I', current_user);
    exception when others then null; -- superusers need no membership
    end $$;
  `);

  await knex.raw(`
    create table accounts (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      login_id text not null,
      email text not null,
      display_name text not null,
      roles text[] not null check (roles <@ array['admin', 'doctor', 'staff', 'auditor']::text[]),
      disabled boolean not null default false,
      deleted_at timestamptz,
      onboarding_state text not null default 'awaiting_first_login' check (onboarding_state in
        ('awaiting_first_login', 'initial_password_expired', 'password_change_required',
         'second_factor_enrollment_required', 'active')),
      password_hash text not null,
      password_is_initial boolean not null default true,
      initial_password_expires_at timestamptz,
      password_changed_at timestamptz not null default now(),
      failed_login_count integer not null default 0,
      last_failed_login_at timestamptz,
      locked_until timestamptz,
      last_login_at timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );
    -- loginId is unique per clinic among accounts that still exist; the same loginId may exist elsewhere.
    create unique index accounts_login_id_key on accounts (tenant_id, login_id) where deleted_at is null;
    create index accounts_tenant_created_idx on accounts (tenant_id, created_at, id);

    create table password_history (
      id bigserial primary key,
      tenant_id uuid not null references tenants (id),
      account_id uuid not null references accounts (id) on delete cascade,
      password_hash text not null,
      created_at timestamptz not null default now()
    );
    create index password_history_account_idx on password_history (account_id, created_at desc);

    create table sessions (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      account_id uuid not null references accounts (id) on delete cascade,
      token_hash bytea not null unique,
      state text not null check (state in
        ('active', 'password_change_required', 'second_factor_enrollment_required', 'second_factor_required')),
      client_ip inet,
      user_agent text,
      created_at timestamptz not null default now(),
      last_seen_at timestamptz not null default now(),
      idle_expires_at timestamptz not null,
      absolute_expires_at timestamptz not null,
      revoked_at timestamptz
    );
    create index sessions_account_idx on sessions (account_id) where revoked_at is null;

    create table groups (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      name text not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint groups_name_key unique (tenant_id, name)
    );

    create table group_members (
      tenant_id uuid not null references tenants (id),
      group_id uuid not null references groups (id) on delete cascade,
      account_id uuid not null references accounts (id) on delete cascade,
      added_at timestamptz not null default now(),
      primary key (group_id, account_id)
    );

    create table tenant_settings (
      tenant_id uuid primary key references tenants (id),
      password_policy jsonb,
      network_allowlist text[] not null default '{}',
      updated_at timestamptz not null default now()
    );

    create table webauthn_credentials (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      account_id uuid not null references accounts (id) on delete cascade,
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
    create index webauthn_credentials_account_idx on webauthn_credentials (account_id);

    -- @simplewebauthn checks neither freshness nor single use of a challenge: we do.
    create table webauthn_challenges (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      session_id uuid not null references sessions (id) on delete cascade,
      purpose text not null check (purpose in ('registration', 'authentication')),
      challenge text not null unique,
      expires_at timestamptz not null,
      created_at timestamptz not null default now()
    );

    create table audit_events (
      id bigserial primary key,
      tenant_id uuid not null references tenants (id),
      occurred_at timestamptz not null default clock_timestamp(),
      actor_type text not null check (actor_type in ('account', 'operator', 'system', 'anonymous')),
      actor_id text,
      actor_roles text[] not null default '{}',
      action text not null,
      target_type text,
      target_id text,
      outcome text not null check (outcome in ('success', 'denied', 'failed')),
      client_ip inet,
      user_agent text,
      request_id text,
      details jsonb not null default '{}'
    );
    create index audit_events_tenant_time_idx on audit_events (tenant_id, occurred_at, id);

    -- Shared by every API instance: fixed windows per key (e.g. login failures per address).
    create table rate_limits (
      key text not null,
      window_start timestamptz not null,
      count integer not null,
      primary key (key, window_start)
    );
  `);

  // The operation log is append-only for the application: no update, no delete.
  for (const table of TENANT_OWNED) await isolateByTenant(knex, table, table === 'audit_events' ? 'select, insert' : 'select, insert, update, delete');
  await knex.raw(`
    grant usage on schema public to ${APP_ROLE};
    grant select, insert, update on tenants to ${APP_ROLE};
    grant select, insert, update, delete on rate_limits to ${APP_ROLE};
    grant usage on all sequences in schema public to ${APP_ROLE};
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop table rate_limits, audit_events, webauthn_challenges, webauthn_credentials, tenant_settings,
      group_members, groups, sessions, password_history, accounts;
    revoke all on tenants, email_deliveries from ${APP_ROLE};
    revoke usage on schema public from ${APP_ROLE};
  `);
}
