import { patched, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { PERMANENT_KEY_ERRORS } from '../lib/crypto/key-provider';

/**
 * Bounded retries: a key service that stays down fails the rotation after about ten minutes
 * (an operator starts it again; every step resumes), and errors no retry can cure (no master
 * key, a key that is gone or refused) fail it at once.
 */
const retry = { maximumAttempts: 10, maximumInterval: '1 minute', nonRetryableErrorTypes: ['NoMasterKey', ...PERMANENT_KEY_ERRORS] };
const { activeMasterKey, rotateMasterKey } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry });
/** These loop over keys and heartbeat for each, so a lost worker is noticed within the heartbeat timeout. */
const { rewrapDataKeys, destroyRetiredMasterKeys } = proxyActivities<Activities>({ startToCloseTimeout: '10 minutes', heartbeatTimeout: '30 seconds', retry });

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
  // The previous master key stays (retired: it wraps nothing current) so that backups taken
  // before the rotation, whose data keys it wraps, can still be restored. Only contract-end
  // purge destroys a clinic's keys (crypto-shredding). Rotations started before this rule
  // destroyed it here; their histories still replay through the unpatched branch.
  if (patched('keep-retired-master-keys')) return { tenantId, from, to, rewrapped, destroyed: 0 };
  const destroyed = await destroyRetiredMasterKeys(tenantId);
  return { tenantId, from, to, rewrapped, destroyed };
}
