import type { Knex } from 'knex';
import type { Db } from './connection';

/**
 * Data access for the workflow outbox (db/migrations/20261203000001_workflow_outbox.ts).
 * `enqueueWorkflow` runs inside the caller's transaction; everything else runs as single short
 * statements, so nothing here is ever held open while Temporal is called.
 */
export type SearchAttributeValues = Record<string, string>;

export type WorkflowIntent =
  | { kind: 'start'; workflowId: string; workflowType: string; args: unknown[]; searchAttributes?: SearchAttributeValues; taskQueue?: string }
  | { kind: 'signal'; workflowId: string; signal: string; args?: unknown[] }
  | {
      kind: 'signal_with_start';
      workflowId: string;
      workflowType: string;
      args: unknown[];
      signal: string;
      signalArgs?: unknown[];
      searchAttributes?: SearchAttributeValues;
      taskQueue?: string;
    };

export type DispatchOutcome = 'started' | 'already_started' | 'signalled' | 'workflow_gone';

export interface OutboxRow {
  id: string;
  seq: string;
  tenantId: string | null;
  kind: WorkflowIntent['kind'];
  workflowId: string;
  workflowType: string | null;
  taskQueue: string | null;
  args: unknown[];
  signalName: string | null;
  signalArgs: unknown[];
  searchAttributes: SearchAttributeValues;
  createdAt: Date;
  attempts: number;
}

/**
 * Records the intent in the caller's transaction: it exists if and only if the change commits.
 * The row is born leased to the caller, which sends it right after commit; the sweeper takes it
 * only if that lease runs out (the caller died) or the send failed.
 */
export async function enqueueWorkflow(trx: Knex.Transaction, tenantId: string | null, intent: WorkflowIntent, leaseMs = 30_000): Promise<OutboxRow> {
  const [row] = await trx('workflow_outbox')
    .insert({
      tenant_id: tenantId,
      kind: intent.kind,
      workflow_id: intent.workflowId,
      workflow_type: intent.kind === 'signal' ? null : intent.workflowType,
      task_queue: intent.kind === 'signal' ? null : (intent.taskQueue ?? null),
      args: JSON.stringify(intent.kind === 'signal' ? [] : intent.args),
      signal_name: intent.kind === 'start' ? null : intent.signal,
      signal_args: JSON.stringify(intent.kind === 'signal' ? (intent.args ?? []) : intent.kind === 'signal_with_start' ? (intent.signalArgs ?? []) : []),
      search_attributes: JSON.stringify(intent.kind === 'signal' ? {} : (intent.searchAttributes ?? {})),
      claimed_until: trx.raw('now() + make_interval(secs => ?)', [leaseMs / 1000]),
    })
    .returning(RETURNED);
  return rowFrom(row as Record<string, unknown>);
}

/** Returned columns, aliased so the snake-case mapper of the query builder leaves one shape for rowFrom. */
const RETURNED = ['id', 'seq', 'tenant_id', 'kind', 'workflow_id', 'workflow_type', 'task_queue', 'args', 'signal_name', 'signal_args', 'search_attributes', 'created_at', 'attempts'];

export interface ClaimFilter {
  ids?: string[];
  workflowId?: string;
  /** Only rows at least this old (the sweeper leaves fresh rows to the request that wrote them). */
  minAgeMs?: number;
  limit: number;
  leaseMs: number;
  /** Take rows even while leased or backing off (someone is waiting for this workflow now). */
  ignoreLease?: boolean;
}

/**
 * Leases undispatched rows to this dispatcher (FOR UPDATE SKIP LOCKED inside one statement, so
 * concurrent dispatchers split the work) and returns them oldest first. A lease that runs out
 * (the dispatcher died) makes the row claimable again; a failed attempt sets the lease to the
 * retry time instead, which is the row's back-off.
 */
export async function claimOutbox(db: Db, filter: ClaimFilter): Promise<OutboxRow[]> {
  const where: string[] = ['dispatched_at is null'];
  if (!filter.ignoreLease) where.push('(claimed_until is null or claimed_until < now())');
  const bindings: Knex.RawBinding[] = [];
  if (filter.ids) {
    where.push('id = any(?::uuid[])');
    bindings.push(filter.ids);
  }
  if (filter.workflowId) {
    where.push('workflow_id = ?');
    bindings.push(filter.workflowId);
  }
  if (filter.minAgeMs) {
    where.push(`created_at < now() - make_interval(secs => ?)`);
    bindings.push(filter.minAgeMs / 1000);
  }
  const result = await db.raw(
    `with c as (
       select id from workflow_outbox where ${where.join(' and ')} order by seq limit ? for update skip locked
     )
     update workflow_outbox o
        set claimed_until = now() + make_interval(secs => ?)
       from c where o.id = c.id
     returning o.id, o.seq, o.tenant_id, o.kind, o.workflow_id, o.workflow_type, o.task_queue, o.args, o.signal_name,
               o.signal_args, o.search_attributes, o.created_at, o.attempts`,
    [...bindings, filter.limit, filter.leaseMs / 1000],
  );
  const rows = (result.rows as Record<string, unknown>[]).map(rowFrom);
  return rows.sort((a, b) => Number(BigInt(a.seq) - BigInt(b.seq)));
}

/** How many messages to this workflow are not sent yet. */
export async function pendingFor(db: Db, workflowId: string): Promise<number> {
  const row = await db('workflow_outbox').whereNull('dispatched_at').where({ workflow_id: workflowId }).count('* as n').first();
  return Number((row as { n: string } | undefined)?.n ?? 0);
}

/** For each workflow, the seq of its oldest undispatched row (to keep one workflow's messages in order). */
export async function oldestPendingSeq(db: Db, workflowIds: string[]): Promise<Map<string, string>> {
  if (workflowIds.length === 0) return new Map();
  const rows = await db('workflow_outbox')
    .whereNull('dispatched_at')
    .whereIn('workflow_id', workflowIds)
    .groupBy('workflow_id')
    .select('workflow_id', db.raw('min(seq)::text as seq'));
  return new Map(rows.map((r: { workflowId: string; seq: string }) => [r.workflowId, r.seq]));
}

export async function markDispatched(db: Db, id: string, outcome: DispatchOutcome): Promise<void> {
  await db('workflow_outbox').where({ id }).update({ dispatched_at: db.fn.now(), outcome, claimed_until: null, last_error: null });
}

/** Leaves the row for a later attempt, not before `retryInMs`. */
export async function markFailed(db: Db, id: string, error: string, retryInMs: number): Promise<void> {
  await db('workflow_outbox')
    .where({ id })
    .update({
      last_error: error.slice(0, 1000),
      attempts: db.raw('attempts + 1'),
      claimed_until: db.raw('now() + make_interval(secs => ?)', [retryInMs / 1000]),
    });
}

/** Gives rows back at once (claimed, then left alone to keep a workflow's messages in order). */
export async function releaseClaims(db: Db, ids: string[]): Promise<void> {
  if (ids.length > 0) await db('workflow_outbox').whereIn('id', ids).whereNull('dispatched_at').update({ claimed_until: null });
}

export interface OutboxBacklog {
  pending: number;
  oldestAgeSeconds: number | null;
}

export async function outboxBacklog(db: Db): Promise<OutboxBacklog> {
  const row = await db('workflow_outbox')
    .whereNull('dispatched_at')
    .first(db.raw('count(*)::int as pending'), db.raw('extract(epoch from now() - min(created_at))::float as oldest'));
  return { pending: row?.pending ?? 0, oldestAgeSeconds: row?.oldest ?? null };
}

/** Dispatched rows are kept a while for operators, then removed. */
export async function pruneDispatched(db: Db, olderThanDays: number): Promise<number> {
  return db('workflow_outbox').whereNotNull('dispatched_at').where('dispatched_at', '<', db.raw('now() - make_interval(days => ?)', [olderThanDays])).delete();
}

/** Raw queries return snake_case columns, the query builder camelCase ones: both end up here. */
function rowFrom(r: Record<string, unknown>): OutboxRow {
  const v = (snake: string, camel: string) => (snake in r ? r[snake] : r[camel]);
  return {
    id: r.id as string,
    seq: String(r.seq),
    tenantId: (v('tenant_id', 'tenantId') as string | null) ?? null,
    kind: r.kind as OutboxRow['kind'],
    workflowId: v('workflow_id', 'workflowId') as string,
    workflowType: (v('workflow_type', 'workflowType') as string | null) ?? null,
    taskQueue: (v('task_queue', 'taskQueue') as string | null) ?? null,
    args: r.args as unknown[],
    signalName: (v('signal_name', 'signalName') as string | null) ?? null,
    signalArgs: v('signal_args', 'signalArgs') as unknown[],
    searchAttributes: v('search_attributes', 'searchAttributes') as SearchAttributeValues,
    createdAt: v('created_at', 'createdAt') as Date,
    attempts: r.attempts as number,
  };
}
