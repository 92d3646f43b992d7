import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const { sweepWorkflowOutbox, releaseSlotsOfEndedWorkflows } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 3, maximumInterval: '10 seconds' },
});

/**
 * Run every minute by the `workflow-outbox-sweeper` schedule (temporal/schedules.ts), it keeps
 * PostgreSQL and Temporal in step both ways: starts and signals that were committed but not sent
 * (the API died after commit, or Temporal was briefly unreachable) are sent now; consultations
 * whose workflow ended abnormally (terminated, failed, timed out) give their slot back. Its
 * result tells operators how much was left behind.
 */
export async function workflowOutboxSweepWorkflow() {
  const outbox = await sweepWorkflowOutbox();
  const consultations = await releaseSlotsOfEndedWorkflows();
  return { ...outbox, consultations };
}
