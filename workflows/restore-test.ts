import { ApplicationFailure, proxyActivities, uuid4 } from '@temporalio/workflow';
import type { Activities } from '../activities';

const PERMANENT = ['BackupMisconfigured', 'RestoreRefused'];
const { beginRestoreTest, failRestoreTest, mailOperators } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 10, maximumInterval: '1 minute' } });
const { runRestoreTest } = proxyActivities<Activities>({
  startToCloseTimeout: '12 hours',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 2, nonRetryableErrorTypes: PERMANENT },
});

export interface RestoreTestInput {
  /** Set by the API; the yearly schedule leaves it out. */
  restoreTestId?: string;
  /** Default: the latest verified generation. */
  generationId?: string;
  trigger?: 'schedule' | 'operator';
}

export interface RestoreTestResult {
  restoreTestId: string;
  generationId: string | null;
  passed: boolean;
  durationMs?: number;
  reason?: string;
}

/**
 * Restores a generation into a scratch database on the verification server and compares it with
 * the manifest (README: Backups). A failed test is stored and mailed to the operators.
 */
export async function restoreTestWorkflow(input: RestoreTestInput = {}): Promise<RestoreTestResult> {
  const restoreTestId = input.restoreTestId ?? uuid4();
  const begun = await beginRestoreTest({ restoreTestId, generationId: input.generationId, trigger: input.trigger ?? 'schedule' });
  if (!begun) {
    await mailOperators({ mark: { table: 'backup_restore_tests', id: restoreTestId }, kind: 'restore_test', generationId: '-', reason: 'there is no verified generation to restore' });
    throw ApplicationFailure.nonRetryable('there is no verified generation to restore', 'NoGeneration');
  }
  const { generationId } = begun;
  let reason: string | undefined;
  try {
    const r = await runRestoreTest(restoreTestId);
    if (r.passed) return { restoreTestId, generationId, passed: true, durationMs: r.durationMs };
    reason = r.reason ?? 'the restored tables differ from the manifest';
  } catch (err) {
    const e = err as { message?: string; cause?: { message?: string } };
    reason = [e.message, e.cause?.message].filter(Boolean).join(': ').slice(0, 1000);
    await failRestoreTest({ restoreTestId, reason });
  }
  await mailOperators({ mark: { table: 'backup_restore_tests', id: restoreTestId }, kind: 'restore_test', generationId, reason });
  return { restoreTestId, generationId, passed: false, reason };
}
