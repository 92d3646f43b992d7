import knex, { type Knex } from 'knex';
import { knexSnakeCaseMappers } from 'objection';
import { migrationSource } from './migrations';
import { APP_ROLE } from './migrations/tenant-isolation';

export type Db = Knex;

export interface DbOptions {
  url: string;
  poolMax?: number;
  applicationName?: string;
  /**
   * 'app' (default): every connection runs as the role forclinic_app, subject to row-level
   * security and unable to rewrite the operation log. 'owner': the connecting user itself,
   * for migrations and operator maintenance only.
   */
  as?: 'app' | 'owner';
}

/** One knex pool per process. Every session runs in UTC so timestamps never depend on the host. */
export function createDb({ url, poolMax = 10, applicationName = 'for-clinic', as = 'app' }: DbOptions): Db {
  return knex({
    client: 'pg',
    connection: { connectionString: url, application_name: applicationName, options: '-c TimeZone=UTC' },
    pool: {
      min: 0,
      max: poolMax,
      ...(as === 'app'
        ? {
            afterCreate: (conn: { query: (sql: string, cb: (err: Error | null) => void) => void }, done: (err: Error | null, conn: unknown) => void) =>
              conn.query(`set role ${APP_ROLE}`, (err) => done(err, conn)),
          }
        : {}),
    },
    acquireConnectionTimeout: 10_000,
    migrations: { migrationSource, tableName: 'knex_migrations' },
    ...knexSnakeCaseMappers(),
  });
}

export async function migrateLatest(db: Db): Promise<string[]> {
  const [, applied] = (await db.migrate.latest()) as [number, string[]];
  return applied;
}

/** True when a simple round trip succeeds within `timeoutMs`. Used by /readyz. */
export async function pingDb(db: Db, timeoutMs = 2_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      db.raw('select 1'),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
      }),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
