import { patched, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const { sweepWorkflowOutbox, releaseSlotsOfEndedWorkflows, failExportsOfEndedWorkflows, settleBackupsOfEndedWorkflows } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 3, maximumInterval: '10 seconds' },
});

/**
 * Run every minute by the `workflow-outbox-sweeper` schedule (temporal/schedules.ts), it keeps
 * PostgreSQL and Temporal in step both ways: starts and signals that were committed but not sent
 * (the API died after commit, or Temporal was briefly unreachable) are sent now; consultations
 * whose workflow ended abnormally (terminated, failed, timed out) give their slot back, data
 * exports whose workflow so ended are marked failed (the clinic may export again), and so are
 * backup generations and restore tests (the next may start; a test's scratch copy is dropped). Its
 * result tells operators how much was left behind.
 */
export async function workflowOutboxSweepWorkflow() {
  const outbox = await sweepWorkflowOutbox();
  const consultations = await releaseSlotsOfEndedWorkflows();
  // Runs from before this pass replay without it.
  const exports = patched('fail-exports-of-ended-workflows') ? await failExportsOfEndedWorkflows() : undefined;
  const backups = patched('settle-backups-of-ended-workflows') ? await settleBackupsOfEndedWorkflows() : undefined;
  return { ...outbox, consultations, ...(exports ? { exports } : {}), ...(backups ? { backups } : {}) };
}
