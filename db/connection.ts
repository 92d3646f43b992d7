import knex, { type Knex } from 'knex';
import { knexSnakeCaseMappers } from 'objection';
import { migrationSource } from './migrations';
import { assertLeastPrivilege, PrivilegedLoginError } from './roles';

export type Db = Knex;

/**
 * knex's PostgreSQL client, with one change: a transaction opened with `{ tenantScope: <uuid> }`
 * (only withTenant does) sends BEGIN and the clinic's `set_config('app.tenant_id', …, true)` in
 * one simple-protocol message, one round trip instead of two. PostgreSQL runs the two statements
 * in order before anything else on the connection, so every statement of the transaction, the
 * first included, runs under the scope; if either fails, the transaction fails before the
 * caller's work starts. The UUID is checked here (and by withTenant) because a simple-protocol
 * message cannot carry bind parameters.
 */
const PgClient = require('knex/lib/dialects/postgres') as new (config: Knex.Config) => object;
const PgTransaction = require('knex/lib/dialects/postgres/execution/pg-transaction') as new (...args: unknown[]) => KnexTransactionInternals;

interface KnexTransactionInternals {
  isolationLevel?: string;
  readOnly?: boolean;
  begin(conn: unknown): Promise<unknown>;
  query(conn: unknown, sql: string): Promise<unknown>;
}

export interface TenantScopeConfig extends Knex.TransactionConfig {
  tenantScope?: string;
  /** A clinic write (db/tenant-scope.ts asClinicWrite): BEGIN also takes the clinic's state lock, shared. */
  clinicWrite?: boolean;
  /** The platform's scope (app.platform = 'on', db/platform-scope.ts), sent with BEGIN the same way. */
  platformScope?: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The clinic's state lock (a transaction-level advisory lock per clinic): clinic writes hold it
 * shared from BEGIN, a change of what they check (suspension, contract end) holds it exclusive
 * (db/tenant-scope.ts). PostgreSQL queues advisory locks fairly, so a change waits for the writes
 * already in progress and the writes that arrive after it wait for the change, however many there
 * are; a share lock on the clinic's row instead let a stream of writes starve the change for a
 * minute, and its order against the log's chain head could deadlock.
 */
export const clinicStateLockSql = (mode: 'shared' | 'exclusive', tenantExpr: string) =>
  `${mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock'}(hashtext('clinic_state'), hashtext(${tenantExpr}::text))`;

class TenantScopedTransaction extends PgTransaction {
  private readonly tenantScope?: string;
  private readonly clinicWrite?: boolean;
  private readonly platformScope?: boolean;

  constructor(client: unknown, container: unknown, config?: Partial<TenantScopeConfig>, outerTx?: unknown) {
    super(client, container, config, outerTx);
    // Read by begin(), which knex calls only after this constructor has returned.
    this.tenantScope = config?.tenantScope;
    this.clinicWrite = config?.clinicWrite;
    this.platformScope = config?.platformScope;
  }

  begin(conn: unknown): Promise<unknown> {
    if (this.tenantScope === undefined && !this.platformScope) return super.begin(conn);
    if (this.tenantScope !== undefined && !UUID.test(this.tenantScope)) return Promise.reject(new Error('tenantScope must be a UUID'));
    const mode = [this.isolationLevel ? `ISOLATION LEVEL ${this.isolationLevel}` : '', this.readOnly ? 'READ ONLY' : ''].join(' ').trim();
    const scope = this.tenantScope !== undefined ? `set_config('app.tenant_id', '${this.tenantScope.toLowerCase()}', true)` : `set_config('app.platform', 'on', true)`;
    const lock = this.clinicWrite && this.tenantScope !== undefined ? ` SELECT ${clinicStateLockSql('shared', `'${this.tenantScope.toLowerCase()}'`)};` : '';
    return this.query(conn, `BEGIN${mode ? ` TRANSACTION ${mode}` : ''}; SELECT ${scope};${lock}`);
  }
}

class ForClinicPgClient extends PgClient {
  transaction(container: unknown, config?: Partial<TenantScopeConfig>, outerTx?: unknown) {
    return new TenantScopedTransaction(this, container, config, outerTx);
  }
}

/** True for pools made by createDb, whose transactions take `tenantScope` (not for a transaction itself: its children are savepoints). */
export const scopesInBegin = (db: Knex) => (db.client as unknown) instanceof ForClinicPgClient && !db.isTransaction;

export interface DbOptions {
  url: string;
  poolMax?: number;
  applicationName?: string;
  /**
   * 'app' (default): the URL is the application's login role (db/roles.ts). Every new connection
   * checks that it owns nothing and cannot escape row-level security or rewrite the operation
   * log, and is refused (PrivilegedLoginError) otherwise. 'owner': the tables' owner
   * (MIGRATION_DATABASE_URL), for migrations and operator maintenance only. 'purge': the
   * contract-end purge's own login (db/purge-role.ts; checked by the purge before it deletes).
   */
  as?: 'app' | 'owner' | 'purge';
}

/** One knex pool per process. Every session runs in UTC so timestamps never depend on the host. */
export function createDb({ url, poolMax = 10, applicationName = 'for-clinic', as = 'app' }: DbOptions): Db {
  return knex({
    client: ForClinicPgClient as unknown as typeof Knex.Client,
    connection: { connectionString: url, application_name: applicationName, options: '-c TimeZone=UTC' },
    pool: {
      min: 0,
      max: poolMax,
      ...(as === 'app'
        ? {
            // Callback style, returning nothing: knex promisifies this hook, and Node warns
            // (DEP0174) at every new connection when the function also returns a promise.
            afterCreate: (conn: Parameters<typeof assertLeastPrivilege>[0], done: (err: Error | null, conn: unknown) => void): void => {
              assertLeastPrivilege(conn).then(
                () => done(null, conn),
                (err: Error) => done(err, conn),
              );
            },
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

/** The pg client under a pooled knex connection, as far as preparedQuery uses it. */
interface PooledPgClient {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: Record<string, unknown>[] }>;
  /** knex's mark for a connection its pool must destroy instead of lending again. */
  __knex__disposed?: unknown;
}

/** PostgreSQL's answer to a prepared statement whose result columns changed since it was prepared. */
const CACHED_PLAN_CHANGED = '0A000';

/**
 * One statement of the hottest paths (session authentication on every request) as a named
 * prepared statement on a pooled connection: after its first use on a connection, PostgreSQL
 * neither parses nor plans it again, and pg sends Bind/Execute/Sync only; knex's query builder
 * (bindings, positional rewrite, its event hooks) is skipped as well. Outside any transaction.
 * `name` must be unique per text: a connection keeps the statement for its lifetime.
 *
 * A migration that changes the statement's result columns (a function's return type) while
 * this process runs makes PostgreSQL refuse the old statement ("cached plan must not change
 * result type") on every connection that prepared it: such a connection is handed back marked
 * for the pool to destroy, and the query is asked again on another, until one answers (at most
 * once per connection the pool can hold, and once more on a new one), so that running processes
 * keep answering during a rolling deploy.
 */
export async function preparedQuery<T>(db: Db, name: string, text: string, values: unknown[]): Promise<T[]> {
  const client = db.client as unknown as {
    acquireConnection(): Promise<PooledPgClient>;
    releaseConnection(c: PooledPgClient): Promise<unknown>;
    pool?: { max?: number };
  };
  const attempts = (client.pool?.max ?? 10) + 1;
  for (let attempt = 1; ; attempt += 1) {
    const connection = await client.acquireConnection();
    try {
      return (await connection.query({ name, text, values })).rows as T[];
    } catch (err) {
      const stale = (err as { code?: string }).code === CACHED_PLAN_CHANGED;
      if (stale) connection.__knex__disposed = err;
      if (!stale || attempt >= attempts) throw err;
    } finally {
      await client.releaseConnection(connection);
    }
  }
}
