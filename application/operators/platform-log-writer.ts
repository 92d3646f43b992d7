import type { AuditContext, AuditEntry } from '../../db/audit';
import type { Db } from '../../db/connection';
import { recordPlatformEntries } from '../../db/platform-log';
import { withPlatform } from '../../db/platform-scope';

export class PlatformLogUnavailable extends Error {
  override name = 'PlatformLogUnavailable';
}

interface Waiting {
  context: AuditContext;
  entry: AuditEntry;
  settle: (err?: unknown) => void;
}

/**
 * Writes the operator listener's per-request entries to the platform log in group commits. The
 * log is one hash chain, so every insert holds its head until commit and concurrent writers
 * queue on it; one insert per request made operator reads ten times slower under load (npm run
 * bench, server part). Here requests that arrive while a batch is being written wait for the
 * next one, which writes them all in one statement and one commit (one pooled connection per
 * process). Each caller still waits for the commit of its own entry, so the answer goes out only
 * once the entry is durable, and learns if it failed. Past `maxWaiting` entries the writer
 * refuses at once (the caller answers 503) rather than let memory or latency grow without bound.
 */
export class PlatformLogWriter {
  private waiting: Waiting[] = [];
  private writing = false;

  constructor(
    private readonly db: Db,
    private readonly limits: { maxBatch: number; maxWaiting: number } = { maxBatch: 500, maxWaiting: 5_000 },
  ) {}

  write(context: AuditContext, entry: AuditEntry): Promise<void> {
    if (this.waiting.length >= this.limits.maxWaiting) return Promise.reject(new PlatformLogUnavailable('too many platform-log entries waiting'));
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ context, entry, settle: (err) => (err === undefined ? resolve() : reject(err)) });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting.splice(0, this.limits.maxBatch);
        try {
          await withPlatform(this.db, (trx) => recordPlatformEntries(trx, batch));
          for (const w of batch) w.settle();
        } catch (err) {
          for (const w of batch) w.settle(err ?? new PlatformLogUnavailable('write failed'));
        }
      }
    } finally {
      this.writing = false;
    }
  }
}
