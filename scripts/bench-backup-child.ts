import { readFileSync } from 'node:fs';
import { writeGeneration } from '../lib/backup/write';
import { lowerPriority } from '../lib/backup/write-process';
import { localKeyProvider } from '../lib/crypto/local-key-provider';
import { fsBackupStore } from '../lib/storage/backup-store';

/**
 * The backup of scripts/bench-backup.ts in a process of its own, started with the worker's V8
 * flags and at the nice value BACKUP_NICE (default 10), as the worker's backup process
 * (lib/backup/write-child.ts) runs: its peak RSS is the backup's, and the API's latency is
 * measured from another process, as in production.
 */
async function main() {
  lowerPriority(Number(process.env.BACKUP_NICE ?? 10));
  const store = fsBackupStore(process.env.BENCH_BACKUP_STORE!);
  const provider = localKeyProvider({ dir: process.env.BENCH_BACKUP_KEYS! });
  const rssBefore = peakRss();
  const started = process.hrtime.bigint();
  const manifest = await writeGeneration({ store, provider, backupUrl: process.env.BENCH_BACKUP_URL!, keyVersion: 1 }, process.env.BENCH_BACKUP_ID!, () => undefined);
  process.send!({ manifest, ms: Number(process.hrtime.bigint() - started) / 1e6, rssBeforeMiB: rssBefore, peakRssMiB: peakRss() });
}

/** The process's peak resident set so far (VmHWM), MiB. */
function peakRss(): number {
  const peak = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return peak ? Math.round(Number(peak[1]) / 1024) : -1;
}

main().catch((err) => process.send!({ error: (err as Error).stack ?? String(err) }));
