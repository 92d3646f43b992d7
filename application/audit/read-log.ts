import { recordAuditEntries, type AuditContext, type AuditEntry } from '../../db/audit';
import type { Db } from '../../db/connection';
import { withTenant } from '../../db/tenant-scope';
import { serviceUnavailable } from '../../domain/problems';
import type { Logger } from '../../lib/logger';
import { GroupCommit } from '../group-commit';

/**
 * The operation-log entries of reads (a patient search, a patient's record, a consultation's
 * record), written per clinic in group commits (application/group-commit.ts). A read takes no
 * chain lock in its own transaction: its rows are read, then its entry waits for the clinic's
 * next batch, and only once that has committed are the rows opened and answered. So no data is
 * handed out unlogged: an entry that cannot be written answers 503 `service_unavailable` (as the
 * same failure inside the read's transaction did) and the read shows nothing. (A read whose process dies before its entry commits has shown
 * nothing either.) Concurrent reads in one clinic share one insert and one commit instead of
 * queueing for the chain one commit at a time.
 */
export class ReadLog {
  private readonly commits: GroupCommit<string, { context: AuditContext; entry: AuditEntry }>;

  constructor(
    db: Db,
    private readonly log: Logger,
    limits: { maxBatch: number; maxWaiting: number } = { maxBatch: 200, maxWaiting: 5_000 },
  ) {
    this.commits = new GroupCommit({
      ...limits,
      writeBatch: (tenantId, entries) => withTenant(db, tenantId, (trx) => recordAuditEntries(trx, entries)),
      unavailable: (reason) => new Error(`read log: ${reason}`),
    });
  }

  async write(tenantId: string, context: AuditContext, entry: AuditEntry): Promise<void> {
    try {
      await this.commits.write(tenantId, { context, entry });
    } catch (err) {
      this.log.error({ err: { message: (err as Error).message }, action: entry.action }, 'read log: entry not written; the read is answered 503');
      throw serviceUnavailable('The operation log could not record this read, so its data is withheld. Retry shortly.');
    }
  }
}
