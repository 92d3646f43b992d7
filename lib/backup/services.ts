import type { BackupServices } from '../../activities/backups';
import type { Config } from '../config';
import type { KeyProvider } from '../crypto/key-provider';
import { createBackupStore } from '../storage/backup-store';
import { writeGenerationInChild } from './write-process';

/** The backup activities' dependencies, from the worker's configuration. */
export function backupServices(config: Config, provider: KeyProvider): BackupServices {
  return {
    store: createBackupStore(config),
    provider,
    backupUrl: config.BACKUP_DATABASE_URL,
    restoreTestUrl: config.RESTORE_TEST_DATABASE_URL,
    keep: config.BACKUP_GENERATIONS,
    keyVersion: config.BACKUP_KEY_VERSION,
    objectLock: { policy: config.BACKUP_S3_OBJECT_LOCK, mode: config.BACKUP_S3_OBJECT_LOCK_MODE === 'governance' ? 'GOVERNANCE' : 'COMPLIANCE' },
    operatorEmails: config.OPERATOR_EMAILS,
    write: (generationId, lock, onProgress, signal) =>
      writeGenerationInChild({ config, generationId, lock: lock && { mode: lock.mode, retainUntil: lock.retainUntil.toISOString() } }, onProgress, signal),
  };
}
