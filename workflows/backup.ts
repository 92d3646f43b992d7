import { ApplicationFailure, proxyActivities, uuid4, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';

/** Errors no retry cures (a misconfiguration, a refused restore): fail at once and say why. */
const PERMANENT = ['BackupMisconfigured', 'RestoreRefused'];
const retry = { maximumAttempts: 10, maximumInterval: '1 minute', nonRetryableErrorTypes: PERMANENT };
const { beginBackup, failBackup, mailOperators } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry });
/**
 * The snapshot is one activity (one transaction): a lost worker is noticed within the heartbeat
 * timeout and the retry writes the generation again from the start. Three attempts: a backup
 * that fails three times in a night needs a person, and the operators get the reason.
 */
const { writeBackup } = proxyActivities<Activities>({
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 3, initialInterval: '10 seconds', nonRetryableErrorTypes: PERMANENT },
});
const { verifyBackup, pruneBackups } = proxyActivities<Activities>({ startToCloseTimeout: '6 hours', heartbeatTimeout: '1 minute', retry: { maximumAttempts: 3, nonRetryableErrorTypes: PERMANENT } });

export interface BackupInput {
  /** Set by the API (the generation row exists already); the schedule leaves it out. */
  generationId?: string;
  trigger?: 'schedule' | 'operator';
}

export interface BackupResult {
  generationId: string;
  outcome: 'verified' | 'skipped';
  sizeBytes?: number;
  pruned?: string[];
}

const reasonOf = (err: unknown): string => {
  const e = err as { message?: string; cause?: { message?: string; cause?: { message?: string } } };
  return [e.message, e.cause?.message, e.cause?.cause?.message].filter(Boolean).join(': ').slice(0, 1000) || 'unknown error';
};

/**
 * One backup generation: write (snapshot → objects → manifest), verify what was stored, and
 * only then apply retention. A failure at any step marks the generation failed, deletes
 * nothing, mails the operators with the reason, and fails this workflow (red in the UI).
 */
export async function backupWorkflow(input: BackupInput = {}): Promise<BackupResult> {
  const generationId = input.generationId ?? uuid4();
  const begun = await beginBackup({ generationId, trigger: input.trigger ?? 'schedule' });
  if (begun === 'busy') return { generationId, outcome: 'skipped' };
  try {
    const { sizeBytes } = await writeBackup(generationId);
    const verification = await verifyBackup(generationId);
    if (!verification.ok) {
      throw ApplicationFailure.nonRetryable(`the stored generation did not verify: ${verification.problems.slice(0, 5).join('; ')}`, 'BackupNotVerified');
    }
    const pruned = await pruneBackups();
    return { generationId, outcome: 'verified', sizeBytes, pruned };
  } catch (err) {
    const reason = reasonOf(err);
    await failBackup({ generationId, reason });
    await mailOperators({ mark: { table: 'backup_generations', id: generationId }, kind: 'backup', generationId, reason });
    throw ApplicationFailure.nonRetryable(`backup ${generationId} failed (${workflowInfo().workflowId}): ${reason}`, 'BackupFailed');
  }
}
