import type { Knex } from 'knex';
import { enqueueWorkflow, type OutboxRow, type WorkflowIntent } from '../db/outbox';
import { withPlatform, type PlatformTransaction } from '../db/platform-scope';
import { withTenant, type TenantTransaction, type TenantTransactionOptions } from '../db/tenant-scope';
import type { Services } from './deps';

/**
 * The one way a use case changes data and starts or signals workflows: the change and its
 * workflow intents commit together (outbox rows), then the intents are sent to Temporal with no
 * transaction open. If sending fails or the process dies first, the sweeper sends them within a
 * minute; if the transaction rolls back, no intent exists and no workflow ever runs.
 */
export type Enqueue = (intent: WorkflowIntent) => Promise<void>;

export async function commitThenDispatch<T>(
  deps: Pick<Services, 'db' | 'outbox'>,
  tenantId: string,
  work: (trx: TenantTransaction, enqueue: Enqueue) => Promise<T>,
  opts: { dispatch?: 'await' | 'background' } & TenantTransactionOptions = {},
): Promise<T> {
  const rows: OutboxRow[] = [];
  const result = await withTenant(deps.db, tenantId, (trx) => work(trx, async (intent) => void rows.push(await enqueueWorkflow(trx, tenantId, intent))), { clinicCheck: opts.clinicCheck });
  await dispatch(deps, rows, opts);
  return result;
}

/**
 * The same in the platform's scope (withPlatform: operators, break-glass); the intents belong to
 * no clinic. Without an outbox at hand (`npm run operator` on the host) the rows are committed all
 * the same and the sweeper sends them.
 */
export async function commitPlatformScopeThenDispatch<T>(
  deps: Pick<Services, 'db'> & Partial<Pick<Services, 'outbox'>>,
  work: (trx: PlatformTransaction, enqueue: Enqueue) => Promise<T>,
  opts: { dispatch?: 'await' | 'background' } = {},
): Promise<T> {
  const rows: OutboxRow[] = [];
  const result = await withPlatform(deps.db, (trx) => work(trx, async (intent) => void rows.push(await enqueueWorkflow(trx, null, intent))));
  if (deps.outbox) await dispatch({ outbox: deps.outbox }, rows, opts);
  return result;
}

async function dispatch(deps: Pick<Services, 'outbox'>, rows: OutboxRow[], opts: { dispatch?: 'await' | 'background' }): Promise<void> {
  const sent = deps.outbox.dispatchCommitted(rows);
  // 'background': the answer must not wait for (or be timed by) Temporal; the rows are committed,
  // and whatever this send misses the sweeper sends.
  if (opts.dispatch === 'background') void sent.catch(() => undefined);
  else await sent;
}

/** The same for platform changes that create the tenant itself (the row must exist before its scope). */
export async function commitPlatformThenDispatch<T>(
  deps: Pick<Services, 'db' | 'outbox'>,
  work: (trx: Knex.Transaction, enqueue: (tenantId: string | null, intent: WorkflowIntent) => Promise<void>) => Promise<T>,
): Promise<T> {
  const rows: OutboxRow[] = [];
  const result = await deps.db.transaction((trx) => work(trx, async (tenantId, intent) => void rows.push(await enqueueWorkflow(trx, tenantId, intent))));
  await deps.outbox.dispatchCommitted(rows);
  return result;
}
