import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions, type ScheduleOptionsStartWorkflowAction } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { maintenanceWorkflow } from '../workflows/maintenance';

/**
 * The product's schedules (Temporal Schedules, not cron workflows), created or brought up to
 * date whenever a worker starts, so a deployment carries its schedules with it. Times are UTC.
 */
export const MAINTENANCE_SCHEDULE_ID = 'maintenance-nightly';
export const OUTBOX_SWEEPER_SCHEDULE_ID = 'workflow-outbox-sweeper';
export const BACKUP_SCHEDULE_ID = 'backup-nightly';
export const BACKUP_VERIFICATION_SCHEDULE_ID = 'backup-verification-daily';
export const RESTORE_TEST_SCHEDULE_ID = 'restore-test-yearly';

/** The service's promise: a backup every night at "25:00", 01:00 the next day in Japan. */
export const BACKUP_SPEC = { cronExpressions: ['0 1 * * *'], timezone: 'Asia/Tokyo' };
/** Every stored generation checked daily, after the night's backup has had hours to finish. */
export const BACKUP_VERIFICATION_SPEC = { cronExpressions: ['0 6 * * *'], timezone: 'Asia/Tokyo' };

/** `prefix` keeps parallel test runs on one server apart; deployments use none. */
export async function ensureSchedules(client: Client, taskQueue: string, prefix = '', opts: { restoreTestCron?: string } = {}): Promise<string[]> {
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
  await upsertSchedule(client, {
    scheduleId: `${prefix}${BACKUP_SCHEDULE_ID}`,
    spec: BACKUP_SPEC,
    action: { type: 'startWorkflow', workflowType: 'backupWorkflow', taskQueue, args: [{ trigger: 'schedule' }], workflowId: `${prefix}backup-nightly` },
    // A night missed while the cluster was down is caught up until 07:00, before clinics open;
    // later than that it waits for the next night rather than loading the database in the day.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '6 hours' },
    memo: { purpose: 'nightly encrypted backup generation (README: Backups)' },
  });
  await upsertSchedule(client, {
    scheduleId: `${prefix}${BACKUP_VERIFICATION_SCHEDULE_ID}`,
    spec: BACKUP_VERIFICATION_SPEC,
    action: { type: 'startWorkflow', workflowType: 'backupVerificationWorkflow', taskQueue, args: [], workflowId: `${prefix}backup-verification` },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '12 hours' },
    memo: { purpose: 'daily check of every stored backup generation' },
  });
  await upsertSchedule(client, {
    scheduleId: `${prefix}${RESTORE_TEST_SCHEDULE_ID}`,
    spec: { cronExpressions: [opts.restoreTestCron ?? '0 4 1 2 *'], timezone: 'Asia/Tokyo' },
    action: { type: 'startWorkflow', workflowType: 'restoreTestWorkflow', taskQueue, args: [{ trigger: 'schedule' }], workflowId: `${prefix}restore-test-yearly` },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '30 days' },
    memo: { purpose: 'yearly restore test of the latest verified backup into a scratch database' },
  });
  return [scheduleId, `${prefix}${OUTBOX_SWEEPER_SCHEDULE_ID}`, `${prefix}${BACKUP_SCHEDULE_ID}`, `${prefix}${BACKUP_VERIFICATION_SCHEDULE_ID}`, `${prefix}${RESTORE_TEST_SCHEDULE_ID}`];
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
