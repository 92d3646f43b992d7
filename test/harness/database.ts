import { randomBytes } from 'node:crypto';
import { createDb, migrateLatest, type Db } from '../../db/connection';
import { dropDatabase, ensureDatabase, withDatabase } from '../../db/database';

export interface TestDatabase {
  name: string;
  url: string;
  db: Db;
  drop(): Promise<void>;
}

/** A fresh, migrated database for one test file, so files run in parallel without interfering. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const server = process.env.TEST_PG_SERVER_URL;
  if (!server) throw new Error('TEST_PG_SERVER_URL is not set: run tests through jest (global setup)');
  const name = `test_${randomBytes(6).toString('hex')}`;
  await ensureDatabase(server, name);
  const url = withDatabase(server, name);
  const db = createDb({ url, poolMax: 5, applicationName: 'for-clinic-test' });
  await migrateLatest(db);
  return {
    name,
    url,
    db,
    drop: async () => {
      await db.destroy();
      await dropDatabase(server, name);
    },
  };
}
