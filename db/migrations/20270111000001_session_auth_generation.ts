import type { Knex } from 'knex';
import { APP_ROLE, purgeableByContractEnd } from './tenant-isolation';
import { SESSION_AUTH } from './20270101000001_contract_end';

/**
 * A clinic's authentication generation: a counter that moves whenever anything session_auth()
 * reads about the clinic changes — the clinic (status, contract), its settings (allowlist), a
 * session, an account, a passkey. An API process keeps what session_auth() answered for a token
 * together with the generation it was read at, and asks PostgreSQL on every request only for the
 * clinic's current generation (one primary-key read of a table without a tenant scope to set):
 * the same number means nothing authentication depends on has changed since, so the kept answer
 * is the one a fresh read would give; any other number (or none) means read afresh. A revoked
 * session, a disabled account or a suspended clinic still counts from the next request in every
 * API process, exactly as with a full read per request (api/middleware/session-auth.ts).
 *
 * The counter is moved by triggers, so no code path can forget it, once per clinic and
 * transaction, and at commit (deferred constraint triggers): its row is locked only for the
 * commit's own moment, after every other row the transaction locks, so two transactions can never
 * wait on each other through it. TRUNCATE (no row triggers) moves every clinic's counter.
 * Writes come only from the triggers' function (security definer: the application's role may
 * read the counters and nothing else). A new session needs no move: nobody holds an answer for
 * its token yet. The purge deletes a clinic's row like any other; moves after that find no row.
 */
/** A trigger condition: any of these columns changed. */
const changed = (...columns: string[]) => columns.map((c) => `old.${c} is distinct from new.${c}`).join(' or ');

const WATCHED: Array<{ table: string; events: string; when?: string }> = [
  // Only changes to what session_auth() reads move it (test/db/session-auth-generation.test.ts
  // holds these lists to the function's text): a failed login (accounts.failed_login_count), a
  // passkey's use (its signature counter) or a contract address changed nothing a kept answer holds,
  // and each turned every kept answer of the clinic back into a full read — failed logins at an
  // attacker's pace.
  { table: 'tenants', events: 'update', when: changed('id', 'slug', 'name', 'status', 'contract_state', 'contract_ends_at') },
  { table: 'tenants', events: 'delete' },
  { table: 'tenant_settings', events: 'insert or update or delete' },
  // A session's touch (its idle deadline extended, at most once a minute: db/sessions.ts
  // touchSession) moves nothing: with 20 people signed in, a clinic's counter moved every few
  // seconds and most kept answers were read twice. An API process uses a kept answer only while
  // its own deadlines say the session is live and no touch is due (authenticateSession), and a
  // later deadline than the one kept can only make a live session live longer; a kept answer that
  // looks expired or due is read again. Anything else — an earlier deadline (a stricter policy),
  // a revocation, a new state — moves it.
  {
    table: 'sessions',
    events: 'update',
    when: `not (new.idle_expires_at >= old.idle_expires_at
                and to_jsonb(new) - 'last_seen_at' - 'idle_expires_at' = to_jsonb(old) - 'last_seen_at' - 'idle_expires_at')`,
  },
  { table: 'sessions', events: 'delete' },
  { table: 'accounts', events: 'update', when: changed('id', 'tenant_id', 'login_id', 'roles', 'display_name', 'email', 'deleted_at', 'disabled') },
  { table: 'accounts', events: 'delete' },
  // The passkey count per account.
  { table: 'webauthn_credentials', events: 'insert or delete' },
  { table: 'webauthn_credentials', events: 'update', when: changed('account_id', 'tenant_id') },
];

/** The trigger of WATCHED[i]: a table's first is auth_generation_moved (sessions has two: its updates have a condition, deletes cannot). */
const triggerName = (i: number) => {
  const { table, events } = WATCHED[i]!;
  return WATCHED.findIndex((w) => w.table === table) === i ? 'auth_generation_moved' : `auth_generation_moved_on_${events.replace(/ /g, '_')}`;
};

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create table auth_generations (
      tenant_id uuid primary key,
      generation bigint not null default 0
    );
    revoke all on auth_generations from public;
    -- Not forced: the triggers' function writes as the owner. Every clinic's counter is readable
    -- by the application before any clinic is in scope (it says only how often the clinic's
    -- authentication data changed); nothing but the function may write one.
    alter table auth_generations enable row level security;
    create policy read_counters on auth_generations for select to ${APP_ROLE} using (true);
    grant select on auth_generations to ${APP_ROLE};

    create function auth_generation_created() returns trigger language plpgsql security definer
    set search_path = public as $$
    begin
      insert into auth_generations (tenant_id) values (new.id) on conflict (tenant_id) do nothing;
      return null;
    end $$;

    -- Once per clinic and transaction: a statement that changes many rows (the nightly prune, a
    -- password change ending 30,000 sessions, a purge batch) fires one event per row at commit,
    -- and moving the counter for each kept its row locked for seconds while the clinic's sign-ins
    -- and session touches waited (commit time grew with the square of the rows). The mark names
    -- its transaction, so a mark left in a connection's session settings (set_config is open to
    -- any login) never stops another transaction's move.
    create function auth_generation_moved() returns trigger language plpgsql security definer
    set search_path = public as $$
    declare
      clinic uuid;
      mark text := coalesce(current_setting('app.auth_generation_moved', true), '');
      mine text := pg_current_xact_id()::text || ':';
    begin
      if TG_TABLE_NAME = 'tenants' then
        clinic := case when TG_OP = 'DELETE' then old.id else new.id end;
      else
        clinic := case when TG_OP = 'DELETE' then old.tenant_id else new.tenant_id end;
      end if;
      if left(mark, length(mine)) <> mine then
        mark := mine;
      elsif strpos(mark, clinic::text) > 0 then
        return null;
      end if;
      update auth_generations set generation = generation + 1 where tenant_id = clinic;
      perform set_config('app.auth_generation_moved', mark || clinic::text || ',', true);
      return null;
    end $$;

    -- TRUNCATE fires no row triggers: emptying one of the watched tables moves every clinic's counter.
    create function auth_generation_truncated() returns trigger language plpgsql security definer
    set search_path = public as $$
    begin
      update auth_generations set generation = generation + 1;
      return null;
    end $$;
    revoke all on function auth_generation_created(), auth_generation_moved(), auth_generation_truncated() from public;

    create trigger auth_generation_created after insert on tenants for each row execute function auth_generation_created();
  `);
  for (const [i, { table, events, when }] of WATCHED.entries()) {
    await knex.raw(`
      create constraint trigger ${triggerName(i)} after ${events} on ${table}
        deferrable initially deferred for each row${when ? ` when (${when})` : ''} execute function auth_generation_moved()`);
  }
  for (const table of new Set(WATCHED.map((w) => w.table))) {
    await knex.raw(`create trigger auth_generation_truncated after truncate on ${table} for each statement execute function auth_generation_truncated()`);
  }
  // Every clinic that exists gets its counter. Where tenants forces row-level security, which would
  // hide its rows from an owner that is not a superuser, it is lifted for this read only, in this
  // transaction.
  const { rows } = await knex.raw<{ rows: Array<{ forced: boolean }> }>(`select relforcerowsecurity as forced from pg_class where oid = 'public.tenants'::regclass`);
  const forced = rows[0]?.forced === true;
  if (forced) await knex.raw('alter table tenants no force row level security');
  await knex.raw('insert into auth_generations (tenant_id) select id from tenants on conflict do nothing');
  if (forced) await knex.raw('alter table tenants force row level security');
  await purgeableByContractEnd(knex, 'auth_generations');
  // A function's result columns cannot be changed in place; in the migration's transaction, so
  // callers never see it missing (running processes re-prepare it: db/connection.ts preparedQuery).
  await knex.raw('drop function session_auth(uuid, bytea)');
  // session_auth() as in 20270101000001_contract_end, plus the clinic's generation read in the same
  // statement (so in the same snapshot as everything else it answers: an answer is never kept
  // under a generation later than the data it holds).
  await knex.raw(SESSION_AUTH(true, true));
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function session_auth(uuid, bytea)');
  await knex.raw(SESSION_AUTH(true));
  for (const [i, { table }] of WATCHED.entries()) await knex.raw(`drop trigger ${triggerName(i)} on ${table}`);
  for (const table of new Set(WATCHED.map((w) => w.table))) await knex.raw(`drop trigger auth_generation_truncated on ${table}`);
  await knex.raw(`
    drop trigger auth_generation_created on tenants;
    drop function auth_generation_created(), auth_generation_moved(), auth_generation_truncated();
    drop table auth_generations;
  `);
}
