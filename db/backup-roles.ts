import { Client, escapeIdentifier } from 'pg';
import { scramVerifier, type Login } from './roles';

/**
 * The two roles backups need besides the application's login, created by an administrator
 * (superuser: only one may give BYPASSRLS) — `npm start` and the test setup do it on the servers
 * they run; elsewhere, the SQL in the README.
 *
 * - The BACKUP role (BACKUP_DATABASE_URL) reads everything and changes nothing: BYPASSRLS,
 *   because the snapshot must include every clinic's rows and the application's login sees
 *   one clinic at a time; pg_read_all_data for SELECT on every table (future ones included);
 *   sessions read-only by default; no ownership, no write privilege, no other attribute. It is
 *   what the worker holds instead of the owner's credential: a bug in the worker can leak data
 *   (as the application's login could, one clinic at a time) but never alter or drop it.
 * - The RESTORE TEST role (RESTORE_TEST_DATABASE_URL) may create databases (CREATEDB) and
 *   nothing else: it owns only the scratch databases it creates, migrates, restores into and
 *   drops; it reads nothing of the product's own database.
 */
const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export async function provisionBackupRoles(adminUrl: string, roles: { backup?: Login; restoreTest?: Login }): Promise<void> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    /** Creates the role, or sets its attributes; only the password when they are right already (no superuser needed then). */
    const ensure = async (login: Login, attributes: string, hasThem: string) => {
      if (!ROLE_NAME.test(login.user)) throw new Error(`unsafe role name "${login.user}"`);
      const role = escapeIdentifier(login.user);
      const password = login.password ? ` password '${scramVerifier(login.password)}'` : '';
      const { rows } = await admin.query<{ right: boolean }>(`select (${hasThem}) as right from pg_roles where rolname = $1`, [login.user]);
      if (!rows.length) await admin.query(`create role ${role} ${attributes}${password}`);
      else if (!rows[0]!.right) await admin.query(`alter role ${role} ${attributes}${password}`);
      else if (password) await admin.query(`alter role ${role}${password}`);
      return role;
    };
    if (roles.backup) {
      const role = await ensure(
        roles.backup,
        'login bypassrls nosuperuser nocreatedb nocreaterole noreplication inherit',
        'rolcanlogin and rolbypassrls and not rolsuper and not rolcreatedb and not rolcreaterole and not rolreplication',
      );
      const { rows } = await admin.query<{ reads: boolean; readOnly: boolean }>(
        `select pg_has_role(r.oid, 'pg_read_all_data', 'MEMBER') as reads,
           coalesce('default_transaction_read_only=on' = any(r.rolconfig), false) as "readOnly" from pg_roles r where r.rolname = $1`,
        [roles.backup.user],
      );
      // Each only when missing: granting a predefined role needs a superuser even when nothing changes.
      if (!rows[0]!.reads) await admin.query(`grant pg_read_all_data to ${role}`);
      if (!rows[0]!.readOnly) await admin.query(`alter role ${role} set default_transaction_read_only = on`);
    }
    if (roles.restoreTest) {
      await ensure(
        roles.restoreTest,
        'login createdb nosuperuser nobypassrls nocreaterole noreplication',
        'rolcanlogin and rolcreatedb and not rolsuper and not rolbypassrls and not rolcreaterole and not rolreplication',
      );
    }
  } finally {
    await admin.end();
  }
}
