import { randomBytes } from 'node:crypto';
import { createDb, type Db } from '../../db/connection';
import { dropDatabase, ensureDatabase, withDatabase } from '../../db/database';
import { migrateAndProvision } from '../../db/migrate';
import { withLogin } from '../../db/roles';

export interface TestDatabase {
  name: string;
  /** The application's URL (DATABASE_URL): the run's login role, as the API and the workers use it. */
  url: string;
  /** The owner's URL (MIGRATION_DATABASE_URL). */
  ownerUrl: string;
  /** The application's view: the login role, member of forclinic_app; row-level security applies. */
  db: Db;
  /** The owner's view, for migrations and for tests that inspect or tamper with raw rows. */
  ownerDb: Db;
  drop(): Promise<void>;
}

/** The login role this test run's applications use (created by the global setup). */
export function testLogin(): { user: string; password: string } {
  const user = process.env.TEST_PG_LOGIN_USER;
  const password = process.env.TEST_PG_LOGIN_PASSWORD;
  if (!user || !password) throw new Error('TEST_PG_LOGIN_USER is not set: run tests through jest (global setup)');
  return { user, password };
}

/**
 * A fresh database for one test file, so files run in parallel without interfering: migrated by
 * the owner, and the run's login role provisioned on it exactly as `npm run migrate` does.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const server = process.env.TEST_PG_SERVER_URL;
  if (!server) throw new Error('TEST_PG_SERVER_URL is not set: run tests through jest (global setup)');
  const name = `test_${randomBytes(6).toString('hex')}`;
  await ensureDatabase(server, name);
  const ownerUrl = withDatabase(server, name);
  const url = withLogin(ownerUrl, testLogin());
  await migrateAndProvision({ ownerUrl, appUrl: url, applicationName: 'for-clinic-test-owner' });
  const ownerDb = createDb({ url: ownerUrl, poolMax: 2, applicationName: 'for-clinic-test-owner', as: 'owner' });
  const db = createDb({ url, poolMax: 5, applicationName: 'for-clinic-test' });
  return {
    name,
    url,
    ownerUrl,
    db,
    ownerDb,
    drop: async () => {
      await Promise.all([db.destroy(), ownerDb.destroy()]);
      await dropDatabase(server, name);
    },
  };
}
