import type { ObjectLock } from '../storage/object-store';
import type { BackupStore } from '../storage/backup-store';
import { BackupMisconfigured } from './write';

/**
 * S3 Object Lock for backup generations (README: Backups). With `auto` (the default) a generation
 * written to a bucket that has Object Lock enabled is locked; `required` refuses to write one to a
 * bucket without it (the backup fails and the operators are mailed); `off` never locks.
 *
 * A generation is locked until it could first be pruned, plus a day: retention keeps the newest
 * BACKUP_GENERATIONS verified generations, one a night, so a generation is pruned at the earliest
 * BACKUP_GENERATIONS days after it was written. Until then nobody — not an operator, not stolen
 * credentials, not ransomware — can delete or overwrite it (COMPLIANCE; GOVERNANCE lets holders
 * of s3:BypassGovernanceRetention do so). Extra backups an operator starts make generations
 * prunable sooner: pruning then only adds delete markers and the locked versions expire later.
 */
export type ObjectLockPolicy = 'auto' | 'required' | 'off';
const DAY_MS = 86_400_000;

export async function generationLock(
  store: Pick<BackupStore, 'objectLockEnabled' | 'location'>,
  opts: { policy: ObjectLockPolicy; mode: ObjectLock['mode']; keep: number; now: Date },
): Promise<ObjectLock | undefined> {
  if (opts.policy === 'off') return undefined;
  if (!(await store.objectLockEnabled())) {
    if (opts.policy === 'required') throw new BackupMisconfigured(`BACKUP_S3_OBJECT_LOCK=required, but ${store.location} has no S3 Object Lock enabled`);
    return undefined;
  }
  return { mode: opts.mode, retainUntil: new Date(opts.now.getTime() + (opts.keep + 1) * DAY_MS) };
}
