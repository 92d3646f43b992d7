import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const { activeMasterKey, rotateMasterKey, rewrapDataKeys, destroyRetiredMasterKeys } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumInterval: '1 minute', nonRetryableErrorTypes: ['NoMasterKey'] },
});

export interface KeyRotationResult {
  tenantId: string;
  from: string | null;
  to: string | null;
  rewrapped: number;
  destroyed: number;
}

/**
 * Moves a clinic's data keys under a new master key version without downtime: the data keys
 * themselves do not change (so nothing is re-encrypted and readers never stop), only how they
 * are wrapped. If the worker dies half-way, the rotation resumes where the database says it is.
 */
export async function keyRotationWorkflow(tenantId: string): Promise<KeyRotationResult> {
  const from = await activeMasterKey(tenantId);
  if (!from) return { tenantId, from: null, to: null, rewrapped: 0, destroyed: 0 };
  const to = await rotateMasterKey({ tenantId, previous: from });
  const rewrapped = await rewrapDataKeys(tenantId);
  const destroyed = await destroyRetiredMasterKeys(tenantId);
  return { tenantId, from, to, rewrapped, destroyed };
}
