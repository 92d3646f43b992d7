import knex, { type Knex } from 'knex';
import { knexSnakeCaseMappers } from 'objection';
import { migrationSource } from './migrations';
import { assertLeastPrivilege, PrivilegedLoginError } from './roles';

export type Db = Knex;

export interface DbOptions {
  url: string;
  poolMax?: number;
  applicationName?: string;
  /**
   * 'app' (default): the URL is the application's login role (db/roles.ts). Every new connection
   * checks that it owns nothing and cannot escape row-level security or rewrite the operation
   * log, and is refused (PrivilegedLoginError) otherwise. 'owner': the tables' owner
   * (MIGRATION_DATABASE_URL), for migrations and operator maintenance only.
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
            afterCreate: (conn: Parameters<typeof assertLeastPrivilege>[0], done: (err: Error | null, conn: unknown) => void) =>
              assertLeastPrivilege(conn).then(
                () => done(null, conn),
                (err: Error) => done(err, conn),
              ),
          }
        : {}),
    },
    acquireConnectionTimeout: 10_000,
    migrations: { migrationSource, tableName: 'knex_migrations' },
    ...knexSnakeCaseMappers(),
  });
}

/**
 * Start-up check of the API and the worker: connects once, which runs the least-privilege check
 * above, so a DATABASE_URL that could escape row-level security stops the process (the caller
 * exits non-zero). A server that cannot be reached only answers 'unreachable': /readyz reports it,
 * and each connection made later is checked all the same.
 */
export async function checkAppLogin(db: Db): Promise<'ok' | 'unreachable'> {
  try {
    await db.raw('select 1');
    return 'ok';
  } catch (err) {
    if (err instanceof PrivilegedLoginError) throw err;
    return 'unreachable';
  }
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
