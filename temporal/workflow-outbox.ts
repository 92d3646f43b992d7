import { WorkflowIdReusePolicy, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type SearchAttributePair } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { Db } from '../db/connection';
import { claimOutbox, markDispatched, markFailed, oldestPendingSeq, pendingFor, releaseClaims, type DispatchOutcome, type OutboxRow } from '../db/outbox';
import type { Logger } from '../lib/logger';
import { CUSTOM_SEARCH_ATTRIBUTES } from './search-attributes';

/**
 * Sends what the outbox recorded to Temporal, after commit. Called by the request that wrote the
 * rows (at once, so the caller rarely waits for the sweeper) and by the sweeper schedule (for
 * rows a crashed or cut-off process left behind). Never throws: a row that cannot be sent now
 * stays in the table with its error and a back-off, and the sweeper tries again.
 *
 * Idempotence is Temporal's: starts use the row's deterministic workflow id with
 * REJECT_DUPLICATE, so a second dispatch of the same row (two dispatchers, or a crash after
 * Temporal accepted but before the row was marked) answers "already started", which is success.
 * Signals carry facts the workflows apply idempotently.
 */
export interface DispatchReport {
  dispatched: number;
  failed: number;
  /** Rows skipped because an older message to the same workflow is still pending elsewhere. */
  deferred: number;
}

export interface WorkflowOutboxOptions {
  db: Db;
  client: Client;
  taskQueue: string;
  log: Logger;
  /** Deadline of each Temporal call; a request never waits longer for a dispatch. */
  deadlineMs?: number;
  leaseMs?: number;
}

/** When a request's deferred rows are tried again (after the previous try). */
const DEFERRED_RETRY_MS = [200, 400, 800, 1_600, 3_200, 6_400];

const SEARCH_ATTRIBUTE_KEYS = new Map<string, (typeof CUSTOM_SEARCH_ATTRIBUTES)[number]>(CUSTOM_SEARCH_ATTRIBUTES.map((k) => [k.name, k]));

export class WorkflowOutbox {
  private readonly deadlineMs: number;
  private readonly leaseMs: number;

  constructor(private readonly opts: WorkflowOutboxOptions) {
    // Short: the caller answers as soon as the change is committed; the sweeper sends what missed this.
    this.deadlineMs = opts.deadlineMs ?? 2_000;
    this.leaseMs = opts.leaseMs ?? 30_000;
  }

  /**
   * After commit: sends the rows this transaction wrote (born leased to it, so no claim is
   * needed). Resolves once Temporal has answered; recording the outcome on the rows goes on
   * without the caller: a row whose mark is lost (a crash, a database hiccup) stays leased for
   * 30 s and is then sent again by the sweeper, which Temporal answers with "already started"
   * (recorded as such) — so the answer need not wait for one more round trip.
   */
  async dispatchCommitted(rows: OutboxRow[]): Promise<DispatchReport> {
    const deferred = new Set<string>();
    const report = await this.send(rows, { markInBackground: true, deferred });
    for (const workflowId of deferred) this.retryDeferred(workflowId, 0);
    return report;
  }

  /**
   * A workflow whose messages a request could not send because an older one was still pending
   * (most often one another request has just sent, its mark still on its way): everything still
   * pending for it, not only this request's rows, is sent again in order from this process a few
   * times over about 12 s, so that a burst of changes to one workflow (several operators editing
   * one clinic's contract) reaches it in seconds, not at the sweeper's next pass up to a minute
   * later. (Retrying only its own rows left the burst waiting behind an older row whose request
   * had given up.) Rows another process is sending (leased) are left to it. The timers do not
   * keep the process alive; what they miss is the sweeper's.
   */
  private retryDeferred(workflowId: string, attempt: number): void {
    if (attempt >= DEFERRED_RETRY_MS.length) return;
    setTimeout(() => {
      const deferred = new Set<string>();
      this.run({ workflowId, limit: 100 }, deferred)
        .then(async (report) => {
          // Still behind an older row, or nothing claimable yet (another process holds it): again later.
          const left = deferred.size > 0 || report.failed > 0 || (await pendingFor(this.opts.db, workflowId).catch(() => 0)) > 0;
          if (left) this.retryDeferred(workflowId, attempt + 1);
        })
        .catch(() => undefined);
    }, DEFERRED_RETRY_MS[attempt]).unref();
  }

  /** Sends these rows if they are still pending and nobody holds them. */
  async dispatch(ids: string[]): Promise<DispatchReport> {
    if (ids.length === 0) return { dispatched: 0, failed: 0, deferred: 0 };
    return this.run({ ids, limit: ids.length });
  }

  /**
   * Sends whatever is still pending for one workflow, now, because a caller needs that workflow
   * (e.g. an update to a consultation booked while Temporal was unreachable). Leases and back-off
   * are ignored: a concurrent send of the same row is harmless.
   */
  async dispatchWorkflow(workflowId: string): Promise<DispatchReport> {
    return this.run({ workflowId, limit: 100, ignoreLease: true });
  }

  /** The sweeper: rows older than `minAgeMs` that nobody has sent, oldest first. */
  async sweep(opts: { minAgeMs?: number; limit?: number } = {}): Promise<DispatchReport> {
    return this.run({ minAgeMs: opts.minAgeMs ?? 5_000, limit: opts.limit ?? 200 });
  }

  private async run(filter: { ids?: string[]; workflowId?: string; minAgeMs?: number; limit: number; ignoreLease?: boolean }, deferred?: Set<string>): Promise<DispatchReport> {
    let rows: OutboxRow[];
    try {
      rows = await claimOutbox(this.opts.db, { ...filter, leaseMs: this.leaseMs });
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'outbox: could not claim rows; the sweeper will retry');
      return { dispatched: 0, failed: filter.ids?.length ?? 0, deferred: 0 };
    }
    return this.send(rows, { deferred });
  }

  /** Sends rows this dispatcher holds; one workflow's messages go out in the order they were written. */
  private async send(rows: OutboxRow[], opts: { markInBackground?: boolean; deferred?: Set<string> } = {}): Promise<DispatchReport> {
    const report: DispatchReport = { dispatched: 0, failed: 0, deferred: 0 };
    if (rows.length === 0) return report;
    const byWorkflow = new Map<string, OutboxRow[]>();
    for (const row of rows) byWorkflow.set(row.workflowId, [...(byWorkflow.get(row.workflowId) ?? []), row]);
    // A start is always a workflow's first message; only signals can be behind an older pending row.
    const signalled = [...byWorkflow.keys()].filter((id) => byWorkflow.get(id)!.some((r) => r.kind !== 'start'));
    // Unknown (the database did not answer): a signal is not sent before it is known to be the
    // oldest; it waits for the next pass (sending it anyway let a stale signal overtake a newer one).
    const oldest = await oldestPendingSeq(this.opts.db, signalled).catch(() => null);
    const behind = (group: OutboxRow[]) =>
      oldest === null ? signalled.includes(group[0]!.workflowId) : oldest.has(group[0]!.workflowId) && oldest.get(group[0]!.workflowId) !== group[0]!.seq;
    await Promise.all(
      [...byWorkflow.values()].map(async (group) => {
        if (behind(group)) {
          report.deferred += group.length;
          opts.deferred?.add(group[0]!.workflowId);
          await releaseClaims(this.opts.db, group.map((r) => r.id)).catch(() => undefined);
          return;
        }
        for (let i = 0; i < group.length; i += 1) {
          const row = group[i]!;
          try {
            const outcome = await this.sendOne(row);
            const marked = markDispatched(this.opts.db, row.id, outcome);
            if (opts.markInBackground) {
              marked.catch((err: Error) => this.opts.log.warn({ err: err.message, workflowId: row.workflowId, outboxId: row.id }, 'outbox: sent, but not marked; the sweeper will send it again'));
            } else {
              await marked;
            }
            report.dispatched += 1;
          } catch (err) {
            report.failed += group.length - i;
            const retryInMs = Math.min(60_000, 1_000 * 2 ** Math.min(row.attempts, 6));
            this.opts.log.warn({ err: (err as Error).message, workflowId: row.workflowId, outboxId: row.id, attempts: row.attempts }, 'outbox: dispatch failed; will retry');
            await markFailed(this.opts.db, row.id, (err as Error).message ?? String(err), retryInMs).catch(() => undefined);
            await releaseClaims(this.opts.db, group.slice(i + 1).map((r) => r.id)).catch(() => undefined);
            return;
          }
        }
      }),
    );
    return report;
  }

  private async sendOne(row: OutboxRow): Promise<DispatchOutcome> {
    const { client } = this.opts;
    const deadline = Date.now() + this.deadlineMs;
    const taskQueue = row.taskQueue ?? this.opts.taskQueue;
    const typedSearchAttributes = this.searchAttributes(row);
    return client.connection.withDeadline(deadline, async () => {
      if (row.kind === 'start') {
        try {
          await client.workflow.start(row.workflowType!, {
            workflowId: row.workflowId,
            taskQueue,
            args: row.args,
            typedSearchAttributes,
            // An id that was ever used counts as done: a re-dispatch never runs the work twice.
            workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          });
          return 'started';
        } catch (err) {
          if (err instanceof WorkflowExecutionAlreadyStartedError) return 'already_started';
          throw err;
        }
      }
      if (row.kind === 'signal') {
        try {
          await client.workflow.getHandle(row.workflowId).signal(row.signalName!, ...row.signalArgs);
          return 'signalled';
        } catch (err) {
          // The workflow has ended: the fact it was told no longer matters to it. Plain signals are
          // only used where that holds after a normal end (README: Commit, then start); said in
          // the log all the same, since a run that failed or was terminated ends the same way.
          if (err instanceof WorkflowNotFoundError) {
            this.opts.log.warn({ workflowId: row.workflowId, outboxId: row.id, signal: row.signalName }, 'outbox: signal found no running workflow (recorded as workflow_gone)');
            return 'workflow_gone';
          }
          throw err;
        }
      }
      await client.workflow.signalWithStart(row.workflowType!, {
        workflowId: row.workflowId,
        taskQueue,
        args: row.args,
        typedSearchAttributes,
        signal: row.signalName!,
        signalArgs: row.signalArgs,
      });
      return 'signalled';
    });
  }

  private searchAttributes(row: OutboxRow): SearchAttributePair[] {
    return Object.entries(row.searchAttributes).map(([name, value]) => {
      const key = SEARCH_ATTRIBUTE_KEYS.get(name);
      if (!key) throw new Error(`outbox: unknown search attribute ${name}`);
      return { key, value: key.type === 'DATETIME' ? new Date(value) : value } as SearchAttributePair;
    });
  }
}
