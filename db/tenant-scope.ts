import { AsyncLocalStorage } from 'node:async_hooks';
import type { Knex } from 'knex';
import { Model, type QueryBuilderType, type QueryContext, type TransactionOrKnex } from 'objection';
import { clinicStateLockSql, scopesInBegin, type Db, type TenantScopeConfig } from './connection';
import { isReadOnly, type ContractState } from '../domain/contract';
import { isUuid } from '../domain/ids';
import { contractEnded, tenantSuspended } from '../domain/problems';

/**
 * The one way to touch tenant-owned rows. withTenant() opens a transaction that knows its clinic
 * (and tells PostgreSQL through app.tenant_id, for row-level security); models extending
 * TenantScopedModel refuse to build a query outside such a transaction and add the
 * tenant_id predicate themselves. Forgetting the scope is therefore an exception, not a leak.
 */
const TENANT_ID = Symbol('tenantId');

export type TenantTransaction = Knex.Transaction & { readonly [TENANT_ID]: string };


const clinicWrites = new AsyncLocalStorage<true>();

/**
 * Runs a clinic user's write request: api/route.ts wraps every write that a read-only clinic may
 * not make (the routes /openapi.json documents with 403 contract_ended). Authentication let it in
 * while the clinic was writable; each transaction it opens holds the clinic's state lock, shared,
 * and re-reads the clinic first (assertWritable), so a write racing the contract's end or a suspension
 * either commits before that change or waits for it and is refused as the next request would
 * be. One rule for every such write, rather than a list of the writes that remembered it.
 */
export const asClinicWrite = <T>(fn: () => Promise<T>): Promise<T> => clinicWrites.run(true, fn);

/**
 * Work that one request starts and others share — a batch of several requests' log entries or
 * security events, a key load other requests await — runs outside the starting request's clinic
 * write: the re-check belongs to that request's own transactions, and a read waiting on the same
 * key load must not be refused because the write that began it was.
 */
export const outsideClinicWrite = <T>(fn: () => T): T => clinicWrites.exit(fn);

/** Whether the caller runs inside a clinic write (asClinicWrite); for tests. */
export const inClinicWrite = (): boolean => clinicWrites.getStore() === true;

export interface TenantTransactionOptions {
  /**
   * 'own': inside a clinic write (asClinicWrite) this transaction reads the clinic itself, folded
   * into a statement it sends anyway (a booking's lookups), so the separate check after BEGIN is
   * skipped (the lock is taken all the same).
   */
  clinicCheck?: 'own';
}

export async function withTenant<T>(db: Db, tenantId: string, fn: (trx: TenantTransaction) => PromiseLike<T>, opts: TenantTransactionOptions = {}): Promise<T> {
  if (!isUuid(tenantId)) throw new Error('withTenant: tenantId must be a UUID');
  // Pools from createDb set the scope in the same round trip as BEGIN (db/connection.ts);
  // anything else (a savepoint inside another transaction) sets it with a statement of its own.
  const inBegin = scopesInBegin(db);
  // A clinic write holds the clinic's state lock, shared, from BEGIN (a savepoint is inside a
  // transaction that took it when it began), then reads the clinic in a statement of its own:
  // one after the lock, so it sees a suspension or an end that committed while it waited.
  const write = clinicWrites.getStore() === true && !(db as Knex.Transaction).isTransaction;
  const config: TenantScopeConfig | undefined = inBegin ? { tenantScope: tenantId, clinicWrite: write } : undefined;
  return db.transaction<T>(async (trx) => {
    if (!inBegin) await trx.raw(`select set_config('app.tenant_id', ?, true)${write ? `, ${clinicStateLockSql('shared', '?')}` : ''}`, write ? [tenantId, tenantId] : [tenantId]);
    Object.defineProperty(trx, TENANT_ID, { value: tenantId, enumerable: false });
    if (write && opts.clinicCheck !== 'own') await assertWritable(trx as TenantTransaction);
    return await fn(trx as TenantTransaction);
  }, config);
}

/**
 * Before a change of what clinic writes check (its status, its contract's end or state), in the
 * changing transaction: waits for the clinic writes in progress, and holds off new ones until
 * commit, which then see the change (asClinicWrite).
 */
export async function lockClinicState(trx: Knex.Transaction, tenantId: string): Promise<void> {
  await trx.raw(`select ${clinicStateLockSql('exclusive', '?')}`, [tenantId]);
}

/**
 * In a clinic's write transaction, under the clinic's state lock (shared, from BEGIN): refuses
 * with 403 contract_ended if the clinic is read-only by now, or 403 tenant_suspended if it was
 * suspended meanwhile.
 */
async function assertWritable(trx: TenantTransaction, nowMs = Date.now()): Promise<void> {
  const { rows } = await trx.raw('select status, contract_state, contract_ends_at from tenants where id = ?::uuid', [tenantIdOf(trx)!]);
  const row = rows[0] as { status: string; contract_state: ContractState; contract_ends_at: Date | null } | undefined;
  if (!row) throw contractEnded();
  refuseUnlessWritable({ state: row.contract_state, endsAt: row.contract_ends_at, suspended: row.status === 'suspended' }, nowMs);
}

/**
 * What a write that re-reads its clinic where it commits decides from it: read-only after the
 * end (403 contract_ended), or suspended meanwhile (403 tenant_suspended, as the next request would be).
 */
export function refuseUnlessWritable(clinic: { state: ContractState; endsAt: Date | null; suspended: boolean }, nowMs = Date.now()): void {
  if (isReadOnly(clinic.state, clinic.endsAt?.getTime() ?? null, nowMs)) throw contractEnded();
  if (clinic.suspended) throw tenantSuspended();
}

export function tenantIdOf(trx: TransactionOrKnex | undefined): string | undefined {
  return trx ? (trx as unknown as Partial<TenantTransaction>)[TENANT_ID] : undefined;
}

export class TenantScopeError extends Error {
  constructor(model: string) {
    super(`${model}: tenant-owned rows can only be queried inside withTenant(db, tenantId, trx => ...)`);
    this.name = 'TenantScopeError';
  }
}

export class TenantScopedModel extends Model {
  /** text[] columns are arrays, not JSON: only models that name jsonb columns get JSON treatment. */
  static jsonAttributes: string[] = [];

  tenantId!: string;

  static query<M extends Model>(this: (new () => M) & typeof Model, trx?: TransactionOrKnex): QueryBuilderType<M> {
    // A connection without a tenant is refused at once. With no argument at all the query may
    // still become a child of a scoped one (objection does that inside insertAndFetch and
    // friends, inheriting the context), so that case is checked when the query is built.
    const tenantId = tenantIdOf(trx);
    if (trx && !tenantId) throw new TenantScopeError(this.name);
    const name = this.name;
    const table = this.tableName;
    const qb = Model.query.call(this, trx) as QueryBuilderType<M>;
    if (tenantId) qb.context({ tenantId });
    return qb.onBuild((builder) => {
      const scope = builder.context().tenantId as string | undefined;
      if (!scope) throw new TenantScopeError(name);
      if (!builder.isInsert()) builder.where(`${table}.tenant_id`, scope);
    }) as QueryBuilderType<M>;
  }

  $beforeInsert(context: QueryContext): void {
    const tenantId = context.tenantId as string | undefined;
    if (!tenantId) throw new TenantScopeError(this.constructor.name);
    if (this.tenantId && this.tenantId !== tenantId) throw new TenantScopeError(this.constructor.name);
    this.tenantId = tenantId;
  }
}
