import { randomBytes } from 'node:crypto';
import { createDb, migrateLatest, type Db } from '../../db/connection';
import { dropDatabase, ensureDatabase, withDatabase } from '../../db/database';

export interface TestDatabase {
  name: string;
  url: string;
  /** The application's view: role forclinic_app, row-level security applies. */
  db: Db;
  /** The owner's view, for migrations and for tests that inspect or tamper with raw rows. */
  ownerDb: Db;
  drop(): Promise<void>;
}

/** A fresh, migrated database for one test file, so files run in parallel without interfering. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const server = process.env.TEST_PG_SERVER_URL;
  if (!server) throw new Error('TEST_PG_SERVER_URL is not set: run tests through jest (global setup)');
  const name = `test_${randomBytes(6).toString('hex')}`;
  await ensureDatabase(server, name);
  const url = withDatabase(server, name);
  const ownerDb = createDb({ url, poolMax: 2, applicationName: 'for-clinic-test-owner', as: 'owner' });
  await migrateLatest(ownerDb);
  const db = createDb({ url, poolMax: 5, applicationName: 'for-clinic-test' });
  return {
    name,
    url,
    db,
    ownerDb,
    drop: async () => {
      await Promise.all([db.destroy(), ownerDb.destroy()]);
      await dropDatabase(server, name);
    },
  };
}
