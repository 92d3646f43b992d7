import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const { listBackupsToVerify, mailOperators } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 10, maximumInterval: '1 minute' } });
const { verifyBackup } = proxyActivities<Activities>({ startToCloseTimeout: '6 hours', heartbeatTimeout: '1 minute', retry: { maximumAttempts: 3 } });

export interface BackupVerificationResult {
  checked: number;
  failed: string[];
}

/**
 * The daily check of every kept generation (objects present, SHA-256 as in the manifest,
 * decrypting with authentication). Each result is stored; each failed generation is mailed to
 * the operators once. A generation that cannot be checked at all (its activity gave up) counts
 * as failed too: silence is never a pass.
 */
export async function backupVerificationWorkflow(): Promise<BackupVerificationResult> {
  const ids = await listBackupsToVerify();
  const failed: string[] = [];
  for (const generationId of ids) {
    let ok = false;
    let reason: string;
    let mark: { table: 'backup_verifications' | 'backup_generations'; id: string } = { table: 'backup_generations', id: generationId };
    try {
      const v = await verifyBackup(generationId);
      ok = v.ok;
      reason = v.problems.slice(0, 10).join('; ');
      mark = { table: 'backup_verifications', id: v.verificationId };
    } catch (err) {
      reason = `the verification could not run: ${(err as Error).message}`;
    }
    if (!ok) {
      failed.push(generationId);
      await mailOperators({ mark, kind: 'verification', generationId, reason });
    }
  }
  return { checked: ids.length, failed };
}
