import type { AuditContext, AuditEntry } from '../../db/audit';
import type { Db } from '../../db/connection';
import { recordPlatformEntries } from '../../db/platform-log';
import { withPlatform } from '../../db/platform-scope';
import { GroupCommit } from '../group-commit';

export class PlatformLogUnavailable extends Error {
  override name = 'PlatformLogUnavailable';
}

/**
 * Writes the operator listener's per-request entries to the platform log in group commits
 * (application/group-commit.ts). The platform log is one hash chain; one insert per request made
 * operator reads ten times slower under load (npm run bench, server part).
 */
export class PlatformLogWriter {
  private readonly commits: GroupCommit<null, { context: AuditContext; entry: AuditEntry }>;

  constructor(db: Db, limits: { maxBatch: number; maxWaiting: number } = { maxBatch: 500, maxWaiting: 5_000 }) {
    this.commits = new GroupCommit({
      ...limits,
      // One key: the platform log is one chain.
      maxWaitingPerKey: limits.maxWaiting,
      writeBatch: (_key, entries) => withPlatform(db, (trx) => recordPlatformEntries(trx, entries)),
      unavailable: (reason) => new PlatformLogUnavailable(reason),
    });
  }

  write(context: AuditContext, entry: AuditEntry): Promise<void> {
    return this.commits.write(null, { context, entry });
  }
}
