import type { Knex } from 'knex';
import { scopesInBegin, type Db, type TenantScopeConfig } from './connection';

/**
 * The operators' side of the data: rows that belong to the platform rather than one clinic
 * (notices as declared, their targets and per-address delivery state, the operators' operation
 * log). Their row-level security shows them only to a transaction that says it acts for the
 * platform (app.platform = 'on', transaction-local), the way withTenant names a clinic. Clinic
 * requests never call this; a query that forgot either scope sees nothing.
 */
const PLATFORM = Symbol('platform');

export type PlatformTransaction = Knex.Transaction & { readonly [PLATFORM]: true };

export async function withPlatform<T>(db: Db, fn: (trx: PlatformTransaction) => PromiseLike<T>): Promise<T> {
  // Pools from createDb set the scope in the same round trip as BEGIN (db/connection.ts), as
  // withTenant does: operator authentication runs one of these on every operator request.
  const inBegin = scopesInBegin(db);
  return db.transaction(
    async (trx) => {
      if (inBegin) markPlatform(trx);
      else await enterPlatform(trx);
      return await fn(trx as PlatformTransaction);
    },
    inBegin ? ({ platformScope: true } as TenantScopeConfig) : undefined,
  );
}

function markPlatform(trx: Knex.Transaction): PlatformTransaction {
  Object.defineProperty(trx, PLATFORM, { value: true, enumerable: false, configurable: true });
  return trx as PlatformTransaction;
}

/** Inside an existing transaction (e.g. one that also writes clinic rows through withTenant). */
export async function enterPlatform(trx: Knex.Transaction): Promise<PlatformTransaction> {
  await trx.raw(`select set_config('app.platform', 'on', true)`);
  return markPlatform(trx);
}
