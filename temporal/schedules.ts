import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions, type ScheduleOptionsStartWorkflowAction } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { maintenanceWorkflow } from '../workflows/maintenance';

/**
 * The product's schedules (Temporal Schedules, not cron workflows), created or brought up to
 * date whenever a worker starts, so a deployment carries its schedules with it. Times are UTC.
 */
export const MAINTENANCE_SCHEDULE_ID = 'maintenance-nightly';
export const OUTBOX_SWEEPER_SCHEDULE_ID = 'workflow-outbox-sweeper';

/** `prefix` keeps parallel test runs on one server apart; deployments use none. */
export async function ensureSchedules(client: Client, taskQueue: string, prefix = ''): Promise<string[]> {
  const scheduleId = `${prefix}${MAINTENANCE_SCHEDULE_ID}`;
  const spec = { cronExpressions: ['0 18 * * *'] }; // 03:00 in Japan, the quietest hour
  const action = { type: 'startWorkflow' as const, workflowType: 'maintenanceWorkflow' as const, taskQueue, args: [] as Parameters<typeof maintenanceWorkflow> };
  try {
    await client.schedule.create({
      scheduleId,
      spec,
      action: { ...action, workflowId: `${prefix}maintenance` },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
      memo: { purpose: 'prune ended sessions, stale passkey challenges and old rate-limit windows' },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((prev) => ({
      ...prev,
      spec,
      action: { ...action, workflowId: `${prefix}maintenance` },
    }));
  }
  await upsertSchedule(client, {
    scheduleId: `${prefix}${OUTBOX_SWEEPER_SCHEDULE_ID}`,
    // Bounds how long a committed change can wait for its workflow when the request that made it could not start it.
    spec: { intervals: [{ every: '1 minute' }] },
    action: { type: 'startWorkflow', workflowType: 'workflowOutboxSweepWorkflow', taskQueue, args: [], workflowId: `${prefix}workflow-outbox-sweep` },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
    memo: { purpose: 'send workflow starts and signals committed to the outbox but not yet sent' },
  });
  return [scheduleId, `${prefix}${OUTBOX_SWEEPER_SCHEDULE_ID}`];
}

/** Creates a schedule, or brings an existing one's spec, action and policies up to date. */
async function upsertSchedule(client: Client, options: ScheduleOptions & { action: ScheduleOptionsStartWorkflowAction<Workflow> }): Promise<void> {
  try {
    await client.schedule.create(options);
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(options.scheduleId).update((prev) => ({
      ...prev,
      spec: options.spec,
      action: options.action,
      policies: { ...prev.policies, ...options.policies },
    }));
  }
}
