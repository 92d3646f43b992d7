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
    const ensure = async (login: Login, attributes: string) => {
      if (!ROLE_NAME.test(login.user)) throw new Error(`unsafe role name "${login.user}"`);
      const role = escapeIdentifier(login.user);
      const password = login.password ? ` password '${scramVerifier(login.password)}'` : '';
      const exists = (await admin.query('select 1 from pg_roles where rolname = $1', [login.user])).rowCount;
      await admin.query(`${exists ? 'alter' : 'create'} role ${role} ${attributes}${password}`);
      return role;
    };
    if (roles.backup) {
      const role = await ensure(roles.backup, 'login bypassrls nosuperuser nocreatedb nocreaterole noreplication inherit');
      await admin.query(`grant pg_read_all_data to ${role}`);
      await admin.query(`alter role ${role} set default_transaction_read_only = on`);
    }
    if (roles.restoreTest) await ensure(roles.restoreTest, 'login createdb nosuperuser nobypassrls nocreaterole noreplication');
  } finally {
    await admin.end();
  }
}
