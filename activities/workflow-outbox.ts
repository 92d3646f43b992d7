import { Context } from '@temporalio/activity';
import type { Db } from '../db/connection';
import { outboxBacklog, pruneDispatched, type OutboxBacklog } from '../db/outbox';
import type { DispatchReport, WorkflowOutbox } from '../temporal/workflow-outbox';

/** Dispatched rows stay this long for operators to look at, then go. */
const KEEP_DISPATCHED_DAYS = 7;
/** One sweep sends at most this many rows; the next sweep (a minute later) takes the rest. */
const MAX_ROWS_PER_SWEEP = 5_000;

export interface SweepResult extends DispatchReport {
  pruned: number;
  backlog: OutboxBacklog;
}

export function createWorkflowOutboxActivities(deps: { db: Db; outbox: WorkflowOutbox }) {
  return {
    /**
     * Sends every outbox row that the request which wrote it did not (it crashed, or Temporal
     * was unreachable then), in batches, heartbeating between them so a stuck sweep is noticed.
     */
    async sweepWorkflowOutbox(): Promise<SweepResult> {
      const total: DispatchReport = { dispatched: 0, failed: 0, deferred: 0 };
      for (let swept = 0; swept < MAX_ROWS_PER_SWEEP; ) {
        const batch = await deps.outbox.sweep({ limit: 200 });
        total.dispatched += batch.dispatched;
        total.failed += batch.failed;
        total.deferred += batch.deferred;
        swept += batch.dispatched + batch.failed + batch.deferred;
        Context.current().heartbeat(total);
        if (batch.dispatched === 0) break; // nothing more, or only rows that failed just now
      }
      const pruned = await pruneDispatched(deps.db, KEEP_DISPATCHED_DAYS);
      return { ...total, pruned, backlog: await outboxBacklog(deps.db) };
    },
  };
}
