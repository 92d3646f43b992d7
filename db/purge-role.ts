import { Client, escapeIdentifier } from 'pg';
import { ensureGroupRoleSql, PURGE_ROLE } from './migrations/tenant-isolation';
import { createLoginRole, type Login } from './roles';

/**
 * The contract-end purge's own login (PURGE_DATABASE_URL). A member of forclinic_purge (made by
 * the contract-end migration), which may SELECT and DELETE the rows of the one clinic named in
 * app.tenant_id in every table with a tenant_id — the operation log included, which the
 * application's login can never delete — and nothing else: no INSERT, no UPDATE, no ownership,
 * no role attribute. Only the worker holds it; the API never does. Needs no superuser: the
 * owner creates it (CREATEROLE, as for the application's login).
 */
export async function provisionPurgeLogin(ownerUrl: string, login: Login, opts: { createGroup?: boolean } = {}): Promise<void> {
  const owner = new Client({ connectionString: ownerUrl });
  await owner.connect();
  try {
    await createLoginRole(owner, login);
    // Normally the contract-end migration creates the group; a server set up before any database is migrated (tests, npm start) creates it here.
    if (opts.createGroup) await owner.query(ensureGroupRoleSql(PURGE_ROLE));
    const { rows } = await owner.query<{ member: boolean; connect: boolean; db: string; version: number }>(
      `select pg_has_role($1::name, '${PURGE_ROLE}'::name, 'USAGE') as member,
              has_database_privilege($1::name, current_database()::text, 'CONNECT') as connect,
              current_database() as db, current_setting('server_version_num')::int as version`,
      [login.user],
    );
    const { member, connect, db, version } = rows[0]!;
    const role = escapeIdentifier(login.user);
    if (!member) await owner.query(`grant ${PURGE_ROLE} to ${role}${version >= 160000 ? ' with inherit true, set false' : ''}`);
    if (!connect) await owner.query(`grant connect on database ${escapeIdentifier(db)} to ${role}`);
  } finally {
    await owner.end();
  }
}

/** What makes the session's user unfit to be the purge's login (a superuser or BYPASSRLS sees every clinic at once). */
export async function purgeLoginProblems(client: { query(sql: string): Promise<{ rows: Array<Record<string, unknown>> }> }): Promise<string[]> {
  const { rows } = await client.query(
    `select r.rolsuper, r.rolbypassrls, pg_has_role(current_user, '${PURGE_ROLE}', 'USAGE') as member
       from pg_roles r where r.rolname = current_user`,
  );
  const r = rows[0]!;
  const problems: string[] = [];
  if (r.rolsuper) problems.push('is a superuser');
  if (r.rolbypassrls) problems.push('has BYPASSRLS');
  if (!r.member) problems.push(`is not a member of ${PURGE_ROLE} (npm run migrate with PURGE_DATABASE_URL grants it)`);
  return problems;
}
