import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { maintenanceWorkflow } from '../workflows/maintenance';

/**
 * The product's schedules (Temporal Schedules, not cron workflows), created or brought up to
 * date whenever a worker starts, so a deployment carries its schedules with it. Times are UTC.
 */
export const MAINTENANCE_SCHEDULE_ID = 'maintenance-nightly';

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
  return [scheduleId];
}
