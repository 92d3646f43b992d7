import { condition, continueAsNew, setHandler, workflowInfo } from '@temporalio/workflow';
import { incidentWorkflowId } from '../temporal/workflow-ids';
import { fanOut, platform } from './notice-fanout';
import { MAX_EVENTS_PER_RUN, noticeChangedSignal, noticeProgressQuery, type NoticeProgress } from './notice-messages';


/** What one run hands to the next (continue-as-new): counters and positions, no content. */
export interface IncidentCarried {
  round: number;
  messagesSent: number;
  coveredSeq: number;
  /** Clinics covered (a count; absent in runs carried before it was kept). */
  clinicsCovered?: number;
  sent: number;
  failed: number;
  runs: number;
}

export interface IncidentWorkflowInput {
  incidentId: string;
  /** The rate-limited queue the mail activities run on (workers/task-queues.ts). */
  mailTaskQueue: string;
  carried?: IncidentCarried;
}

export interface IncidentWorkflowResult {
  incidentId: string;
  outcome: 'resolved' | 'incident_missing';
  messages: number;
  sent: number;
  failed: number;
  runs: number;
}

/**
 * One security incident (`incident/<id>`, search attributes IncidentId and Severity), from its
 * declaration until it is resolved. The API records every change in PostgreSQL (a message, more
 * clinics) and signals `noticeChanged` through the workflow outbox; the workflow then reads the
 * plan (message ids, how many targets) and brings every target up to date:
 *   - messages it has not sent yet go to the clinics it has covered so far;
 *   - clinics added since go all messages so far, in order (a late-added clinic gets the history).
 * Each is a fan-out of child workflows (notice-fanout.ts). It ends once the incident is resolved
 * and the resolution has gone out; a long incident continues as new between rounds.
 */
export async function incidentNotificationWorkflow(input: IncidentWorkflowInput): Promise<IncidentWorkflowResult> {
  const c: IncidentCarried = input.carried ?? { round: 0, messagesSent: 0, coveredSeq: 0, sent: 0, failed: 0, runs: 0 };
  c.runs += 1;
  let wakeups = 0;
  const progress: NoticeProgress = {
    phase: 'fanning_out',
    messagesSent: c.messagesSent,
    clinicsCovered: c.clinicsCovered ?? 0,
    rounds: c.round,
    batchesDone: 0,
    batchesPlanned: 0,
    sent: c.sent,
    failed: c.failed,
  };
  setHandler(noticeChangedSignal, () => void (wakeups += 1));
  setHandler(noticeProgressQuery, () => progress);
  const round = async (messageIds: string[], afterSeq: number, upToSeq: number) => {
    if (messageIds.length === 0 || upToSeq <= afterSeq) return;
    c.round += 1;
    progress.rounds = c.round;
    await fanOut({ noticeId: input.incidentId, parentId: incidentWorkflowId(input.incidentId), mailTaskQueue: input.mailTaskQueue, round: c.round, messageIds, range: { afterSeq, upToSeq } }, progress);
  };

  for (;;) {
    const seen = wakeups;
    const plan = await platform.loadNoticePlan({ noticeId: input.incidentId });
    if (!plan) return { incidentId: input.incidentId, outcome: 'incident_missing', messages: 0, sent: progress.sent, failed: progress.failed, runs: c.runs };
    progress.phase = 'fanning_out';
    await round(plan.messageIds.slice(c.messagesSent), 0, c.coveredSeq);
    await round(plan.messageIds, c.coveredSeq, plan.maxTargetSeq);
    c.messagesSent = plan.messageIds.length;
    c.coveredSeq = Math.max(c.coveredSeq, plan.maxTargetSeq);
    c.sent = progress.sent;
    c.failed = progress.failed;
    progress.messagesSent = c.messagesSent;
    // Every target the plan counted is covered now (one added later has a later position). Plans
    // read by runs before the count was kept lack it: the query then shows what it can.
    c.clinicsCovered = plan.targetCount ?? c.clinicsCovered;
    progress.clinicsCovered = c.clinicsCovered ?? 0;
    if (plan.closed) {
      progress.phase = 'ended';
      return { incidentId: input.incidentId, outcome: 'resolved', messages: c.messagesSent, sent: c.sent, failed: c.failed, runs: c.runs };
    }
    progress.phase = 'waiting';
    // Between rounds nothing is in flight: the next run starts by reading the plan again, so even
    // a signal that arrived just now is not lost.
    if (wakeups === seen && workflowInfo().historyLength > MAX_EVENTS_PER_RUN) {
      return continueAsNew<typeof incidentNotificationWorkflow>({ incidentId: input.incidentId, mailTaskQueue: input.mailTaskQueue, carried: c });
    }
    await condition(() => wakeups !== seen);
  }
}
