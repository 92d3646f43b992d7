import type { Knex } from 'knex';
import { Model, type QueryBuilderType, type QueryContext, type TransactionOrKnex } from 'objection';
import { scopesInBegin, type Db, type TenantScopeConfig } from './connection';
import { isUuid } from '../domain/ids';

/**
 * The one way to touch tenant-owned rows. withTenant() opens a transaction that knows its clinic
 * (and tells PostgreSQL through app.tenant_id, for row-level security); models extending
 * TenantScopedModel refuse to build a query outside such a transaction and add the
 * tenant_id predicate themselves. Forgetting the scope is therefore an exception, not a leak.
 */
const TENANT_ID = Symbol('tenantId');

export type TenantTransaction = Knex.Transaction & { readonly [TENANT_ID]: string };


export async function withTenant<T>(db: Db, tenantId: string, fn: (trx: TenantTransaction) => PromiseLike<T>): Promise<T> {
  if (!isUuid(tenantId)) throw new Error('withTenant: tenantId must be a UUID');
  // Pools from createDb set the scope in the same round trip as BEGIN (db/connection.ts);
  // anything else (a savepoint inside another transaction) sets it with a statement of its own.
  const inBegin = scopesInBegin(db);
  const config: TenantScopeConfig | undefined = inBegin ? { tenantScope: tenantId } : undefined;
  return db.transaction<T>(async (trx) => {
    if (!inBegin) await trx.raw(`select set_config('app.tenant_id', ?, true)`, [tenantId]);
    Object.defineProperty(trx, TENANT_ID, { value: tenantId, enumerable: false });
    return await fn(trx as TenantTransaction);
  }, config);
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
