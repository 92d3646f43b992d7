import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const { listTenantIds, pruneTenantSessions, pruneRateLimits } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumInterval: '1 minute', maximumAttempts: 10 },
});

export interface MaintenanceResult {
  clinics: number;
  sessionsPruned: number;
  challengesPruned: number;
  rateLimitWindowsPruned: number;
}

/**
 * Nightly housekeeping, run by the `maintenance-nightly` schedule (temporal/schedules.ts):
 * ended sessions and stale passkey challenges per clinic, then old rate-limit windows.
 * The operation log is never pruned here: it is kept for as long as the service runs.
 */
export async function maintenanceWorkflow(): Promise<MaintenanceResult> {
  const result: MaintenanceResult = { clinics: 0, sessionsPruned: 0, challengesPruned: 0, rateLimitWindowsPruned: 0 };
  for (const tenantId of await listTenantIds()) {
    const { sessions, challenges } = await pruneTenantSessions(tenantId);
    result.clinics += 1;
    result.sessionsPruned += sessions;
    result.challengesPruned += challenges;
  }
  result.rateLimitWindowsPruned = await pruneRateLimits();
  return result;
}
