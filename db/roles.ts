import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { Client, escapeIdentifier } from 'pg';
import { APP_ROLE } from './migrations/tenant-isolation';

/**
 * Who may do what in the product's database. Two credentials reach it:
 *
 * - the OWNER (MIGRATION_DATABASE_URL) owns the tables, the policies and the audit trigger. Only
 *   migrations and operator maintenance commands log in as it.
 * - the application's LOGIN (DATABASE_URL), used by the API and the workers, owns nothing, has no
 *   role attributes (superuser, BYPASSRLS, CREATEROLE, CREATEDB, REPLICATION) and is a member of
 *   forclinic_app only, whose privileges it INHERITS. Row-level security policies are written
 *   `to forclinic_app`, so they apply to the login directly.
 *
 * The login is the session user itself: no `SET ROLE` happens, so `RESET ROLE` changes nothing,
 * and `SET ROLE` can only reach roles it already is (on PostgreSQL 16+ not even forclinic_app:
 * the membership is granted WITH INHERIT TRUE, SET FALSE).
 */

/** The login role `npm start` creates on its embedded server. */
export const EMBEDDED_LOGIN_ROLE = 'forclinic_login';

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export interface Login {
  user: string;
  /** Absent when the server authenticates otherwise (certificates, IAM tokens, peer). */
  password?: string;
}

/** The user and password a postgres:// URL logs in with. */
export function loginOf(url: string): Login {
  const u = new URL(url);
  const user = decodeURIComponent(u.username);
  if (!user) throw new Error('the database URL names no user');
  return { user, password: u.password ? decodeURIComponent(u.password) : undefined };
}

/** The same server and database, logging in as `login`. */
export function withLogin(url: string, login: Login): string {
  const u = new URL(url);
  u.username = encodeURIComponent(login.user);
  u.password = login.password ? encodeURIComponent(login.password) : '';
  return u.toString();
}

/**
 * A SCRAM-SHA-256 verifier for `password`, as PostgreSQL stores it. CREATE/ALTER ROLE then carry
 * the verifier, never the password, so statement logs (log_statement=ddl) cannot leak it.
 */
export function scramVerifier(password: string, iterations = 4096): string {
  // PostgreSQL prepares non-ASCII passwords with SASLprep; printable ASCII passes unchanged.
  if (!/^[\x20-\x7e]+$/.test(password)) throw new Error('the login password must consist of printable ASCII characters');
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
  const storedKey = createHash('sha256').update(hmac(salted, 'Client Key')).digest();
  const serverKey = hmac(salted, 'Server Key');
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

const quoteLiteral = (text: string) => `'${text.replace(/'/g, "''")}'`;

interface Queryable {
  query(sql: string, params?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
}

/*
 * Everything that would let the login escape row-level security or rewrite the operation log,
 * for the login itself and every role it is a member of (it could SET ROLE to those):
 * role attributes, predefined roles, ownership (an owner may disable RLS, drop policies and
 * triggers), and privileges that RLS does not govern (TRUNCATE, TRIGGER), UPDATE or DELETE on
 * the operation log, and CREATE in the schema the tables live in.
 * $1: the login's name, or null for the session's own user.
 */
const PROBLEMS_SQL = `
with me as (select coalesce($1::name, session_user) as name),
reach as (
  select r.oid, r.rolname, r.rolname = me.name as self, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb, r.rolreplication
  from pg_roles r, me where pg_has_role(me.name, r.oid, 'MEMBER')
),
tables as (
  select c.oid, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = 'public' and c.relkind in ('r', 'p')
)
select 'attribute' as kind, r.rolname as role, r.self, a.name as object
  from reach r cross join lateral (values ('superuser', r.rolsuper), ('BYPASSRLS', r.rolbypassrls),
    ('CREATEROLE', r.rolcreaterole), ('CREATEDB', r.rolcreatedb), ('REPLICATION', r.rolreplication)) a(name, has)
  where a.has
union all
select 'predefined', r.rolname, r.self, r.rolname from reach r where r.rolname like 'pg\\_%'
union all
select 'owns', r.rolname, r.self, 'table ' || c.relname from reach r
  join pg_class c on c.relowner = r.oid join pg_namespace n on n.oid = c.relnamespace
  where n.nspname not like 'pg\\_%' and n.nspname <> 'information_schema' and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
union all
select 'owns', r.rolname, r.self, 'schema ' || n.nspname from reach r join pg_namespace n on n.nspowner = r.oid
  where n.nspname not like 'pg\\_%' and n.nspname <> 'information_schema'
union all
select 'owns', r.rolname, r.self, 'database ' || d.datname from reach r join pg_database d on d.datdba = r.oid
  where d.datname = current_database()
union all
select 'owns', r.rolname, r.self, 'function ' || p.proname from reach r join pg_proc p on p.proowner = r.oid
  join pg_namespace n on n.oid = p.pronamespace where n.nspname not like 'pg\\_%' and n.nspname <> 'information_schema'
union all
select 'privilege', r.rolname, r.self, p.name || ' on ' || t.relname from reach r cross join tables t
  cross join (values ('TRUNCATE'), ('TRIGGER')) p(name)
  where not r.rolsuper and has_table_privilege(r.oid, t.oid, p.name)
union all
select 'privilege', r.rolname, r.self, p.name || ' on ' || t.relname from reach r cross join tables t
  cross join (values ('UPDATE'), ('DELETE')) p(name)
  where not r.rolsuper and t.relname in ('audit_events', 'audit_chain_heads') and has_table_privilege(r.oid, t.oid, p.name)
union all
select 'privilege', r.rolname, r.self, 'CREATE on schema ' || n.nspname from reach r cross join pg_namespace n
  where not r.rolsuper and n.nspname = 'public' and has_schema_privilege(r.oid, n.oid, 'CREATE')
union all
select 'app_role', me.name, true, case when to_regrole('${APP_ROLE}') is null then 'missing' else 'not_inherited' end from me
  where to_regrole('${APP_ROLE}') is null or not pg_has_role(me.name, to_regrole('${APP_ROLE}')::oid, 'USAGE')
`;

interface ProblemRow {
  kind: 'attribute' | 'predefined' | 'owns' | 'privilege' | 'app_role';
  role: string;
  self: boolean;
  object: string;
}

/** What is wrong with `login` (default: the session's own user) as the application's login, in words. */
export async function loginProblems(client: Queryable, login?: string): Promise<string[]> {
  const { rows } = (await client.query(PROBLEMS_SQL, [login ?? null])) as unknown as { rows: ProblemRow[] };
  // A superuser is a member of every role and may do anything: that one fact says it all.
  if (rows.some((r) => r.kind === 'attribute' && r.self && r.object === 'superuser')) return ['is a superuser'];
  const byWhat = new Map<string, string[]>();
  for (const row of rows) {
    const who = row.self ? '' : `can become "${row.role}", which `;
    let what: string;
    let object = row.object;
    switch (row.kind) {
      case 'attribute':
        what = `${who}${row.object === 'superuser' ? 'is a superuser' : `has ${row.object}`}`;
        object = '';
        break;
      case 'predefined':
        what = `is a member of the predefined role ${row.object}`;
        object = '';
        break;
      case 'owns':
        what = `${who}owns`;
        break;
      case 'privilege':
        what = `${who}may use`;
        break;
      case 'app_role':
        what =
          row.object === 'missing'
            ? `cannot use ${APP_ROLE}: the role does not exist yet (run the migrations first: npm run migrate)`
            : `does not inherit the privileges of ${APP_ROLE} (GRANT ${APP_ROLE} TO ${row.role}; on PostgreSQL 15 and older the login also needs INHERIT)`;
        object = '';
        break;
    }
    byWhat.set(what, [...(byWhat.get(what) ?? []), ...(object ? [object] : [])]);
  }
  return [...byWhat].map(([what, objects]) => {
    if (!objects.length) return what;
    const shown = objects.slice(0, 4).join(', ');
    return `${what} ${shown}${objects.length > 4 ? ` and ${objects.length - 4} more` : ''}`;
  });
}

/** The application's login may escape row-level security or rewrite the operation log. */
export class PrivilegedLoginError extends Error {
  constructor(
    readonly login: string,
    readonly problems: string[],
  ) {
    super(
      `DATABASE_URL logs in as "${login}", which the API and the workers must not use:\n` +
        problems.map((p) => `  - ${p}`).join('\n') +
        `\nGive them a login role that owns nothing and is a member of ${APP_ROLE} only, and the owner's URL to ` +
        'migrations alone as MIGRATION_DATABASE_URL (README: Pointing at external services).',
    );
    this.name = 'PrivilegedLoginError';
  }
}

/** Throws PrivilegedLoginError unless the session's user is fit to be the application's login. */
export async function assertLeastPrivilege(client: Queryable): Promise<void> {
  const problems = await loginProblems(client);
  if (problems.length) {
    const { rows } = await client.query('select session_user as name');
    throw new PrivilegedLoginError(String(rows[0]!.name), problems);
  }
}

/** Errors two provisioning runs racing on the same cluster-wide role can cause; a retry settles them. */
const RACE_CODES = new Set(['23505', '42710', 'XX000', '40001', '40P01']);

async function retryRaces<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 5 || !RACE_CODES.has((err as { code?: string }).code ?? '')) throw err;
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 80 * attempt));
    }
  }
}

/**
 * Creates the application's login role on the owner's server if it is missing, with the
 * password's SCRAM verifier (`resetPassword`: set it even when the role exists — for servers
 * this product runs itself). Cluster-wide: needs the owner's CREATEROLE (or superuser).
 */
export async function createLoginRole(owner: Queryable, login: Login, opts: { resetPassword?: boolean } = {}): Promise<void> {
  if (!ROLE_NAME.test(login.user)) throw new Error(`unsafe login role name "${login.user}" (use a-z, 0-9 and _)`);
  const role = escapeIdentifier(login.user);
  const password = login.password ? ` password ${quoteLiteral(scramVerifier(login.password))}` : '';
  await retryRaces(async () => {
    const { rows } = await owner.query('select 1 from pg_roles where rolname = $1', [login.user]);
    if (!rows.length) {
      await owner.query(`create role ${role} login inherit nosuperuser nocreatedb nocreaterole nobypassrls noreplication${password}`);
    } else if (opts.resetPassword && password) {
      await owner.query(`alter role ${role}${password}`);
    }
  });
}

/**
 * Makes `login` the application's login on the owner's database (after migrations): creates it
 * if missing, makes it a member of forclinic_app that inherits its privileges (and, on
 * PostgreSQL 16+, cannot SET ROLE to it), lets it connect, then checks it from the owner's side
 * and throws PrivilegedLoginError if it could escape row-level security.
 */
export async function provisionLoginRole(ownerUrl: string, login: Login, opts: { resetPassword?: boolean } = {}): Promise<void> {
  const owner = new Client({ connectionString: ownerUrl });
  await owner.connect();
  try {
    const { rows } = await owner.query<{ me: string; version: number; db: string }>(
      `select current_user as me, current_setting('server_version_num')::int as version, current_database() as db`,
    );
    const { me, version, db } = rows[0]!;
    if (me === login.user) {
      throw new Error(`DATABASE_URL and MIGRATION_DATABASE_URL both log in as "${me}": the application needs a login role of its own that owns nothing`);
    }
    await createLoginRole(owner, login, opts);
    const role = escapeIdentifier(login.user);
    await retryRaces(async () => {
      const member = await owner.query(`select pg_has_role($1::name, '${APP_ROLE}'::name, 'USAGE') as ok`, [login.user]);
      if (!member.rows[0].ok) {
        await owner.query(`grant ${APP_ROLE} to ${role}${version >= 160000 ? ' with inherit true, set false' : ''}`);
      }
      const connect = await owner.query(`select has_database_privilege($1::name, current_database()::text, 'CONNECT') as ok`, [login.user]);
      if (!connect.rows[0].ok) await owner.query(`grant connect on database ${escapeIdentifier(db)} to ${role}`);
    });
    const problems = await loginProblems(owner, login.user);
    if (problems.length) throw new PrivilegedLoginError(login.user, problems);
  } finally {
    await owner.end();
  }
}

/** Drops a login role made for one test run (best effort: a database left behind may still need it). */
export async function dropLoginRole(serverUrl: string, user: string): Promise<void> {
  if (!ROLE_NAME.test(user)) throw new Error(`unsafe login role name "${user}"`);
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`drop role if exists ${escapeIdentifier(user)}`);
  } finally {
    await client.end();
  }
}
