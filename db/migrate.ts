import { Client } from 'pg';
import { loadMigrationConfig } from '../lib/config';
import { createDb, migrateLatest } from './connection';
import { assertLeastPrivilege, loginOf, provisionLoginRole } from './roles';
import { provisionBackupRoles } from './backup-roles';
import { provisionPurgeLogin } from './purge-role';

/**
 * Applies pending migrations as the tables' owner, then, when the application's URL is given,
 * makes its login role ready (created if missing, member of forclinic_app, may connect) and
 * proves it from the application's side: it logs in and passes the least-privilege check.
 */
export async function migrateAndProvision(o: {
  ownerUrl: string;
  appUrl?: string;
  /** Set the login's password from appUrl even if the role exists (servers this product runs itself). */
  resetPassword?: boolean;
  applicationName?: string;
}): Promise<string[]> {
  const owner = createDb({ url: o.ownerUrl, poolMax: 1, applicationName: o.applicationName ?? 'for-clinic-migrate', as: 'owner' });
  let applied: string[];
  try {
    applied = await migrateLatest(owner);
  } finally {
    await owner.destroy();
  }
  if (o.appUrl) {
    await provisionLoginRole(o.ownerUrl, loginOf(o.appUrl), { resetPassword: o.resetPassword });
    const app = new Client({ connectionString: o.appUrl });
    await app.connect();
    try {
      await assertLeastPrivilege(app);
    } finally {
      await app.end();
    }
  }
  return applied;
}

/** `npm run migrate`: MIGRATION_DATABASE_URL (owner) and, optionally, DATABASE_URL (the application's login). */
async function main() {
  const config = loadMigrationConfig();
  const applied = await migrateAndProvision({ ownerUrl: config.MIGRATION_DATABASE_URL, appUrl: config.DATABASE_URL });
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
  if (config.DATABASE_URL) console.log(`login role "${loginOf(config.DATABASE_URL).user}": ready (member of forclinic_app, owns nothing)`);
  if (config.PURGE_DATABASE_URL) {
    await provisionPurgeLogin(config.MIGRATION_DATABASE_URL, loginOf(config.PURGE_DATABASE_URL));
    console.log(`purge role "${loginOf(config.PURGE_DATABASE_URL).user}": ready (member of forclinic_purge: reads and deletes one clinic's rows)`);
  }
  if (config.BACKUP_DATABASE_URL) {
    await provisionBackupRoles(config.MIGRATION_DATABASE_URL, { backup: loginOf(config.BACKUP_DATABASE_URL) });
    console.log(`backup role "${loginOf(config.BACKUP_DATABASE_URL).user}": ready (BYPASSRLS, pg_read_all_data, read-only sessions)`);
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`migrate failed: ${(err as Error).message}`);
    process.exit(1);
  });
}
