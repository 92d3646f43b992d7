import { createKeyProvider } from '../crypto/provider';
import { createBackupStore } from '../storage/backup-store';
import { throttled } from './streams';
import { writeGeneration } from './write';
import { lowerPriority, type WriteJob, type WriteMessage } from './write-process';

/**
 * The process that writes one backup generation (lib/backup/write-process.ts starts it). Its
 * priority is lowered before it does any work, so that every thread it starts later (libuv's
 * pool, where compression runs) inherits the lower priority too.
 */
// Before anything else (the nice value is the one argument: it is no secret).
lowerPriority(Number(process.argv[2] ?? 0));

const send = (m: WriteMessage) => process.send?.(m);

// The worker is gone (killed, crashed): nothing may keep writing a generation for it.
process.on('disconnect', () => process.exit(1));

process.once('message', (job: WriteJob) => {
  void (async () => {
    try {
      // Progress as bytes since the last message, at most once a second (the activity heartbeats on it).
      let bytes = 0;
      const beat = throttled(1_000, () => {
        send({ bytes });
        bytes = 0;
      });
      const manifest = await writeGeneration(
        {
          store: createBackupStore(job.config),
          provider: createKeyProvider(job.config),
          backupUrl: job.config.BACKUP_DATABASE_URL!,
          keyVersion: job.config.BACKUP_KEY_VERSION,
          lock: job.lock ? { mode: job.lock.mode, retainUntil: new Date(job.lock.retainUntil) } : undefined,
        },
        job.generationId,
        (n) => {
          bytes += n;
          beat();
        },
      );
      send({ manifest });
    } catch (err) {
      const e = err as Error;
      send({ error: { name: e.name, message: e.message } });
    }
  })();
});
