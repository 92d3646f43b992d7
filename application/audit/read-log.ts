import { recordAudit, recordAuditEntries, type AuditContext, type AuditEntry } from '../../db/audit';
import type { Db } from '../../db/connection';
import { withTenant, type TenantTransaction } from '../../db/tenant-scope';
import { serviceUnavailable } from '../../domain/problems';
import type { Logger } from '../../lib/logger';
import { GroupCommit } from '../group-commit';

/**
 * The operation-log entries of reads (a patient search, a patient's record, a consultation's
 * record). No data is handed out unlogged: a read's entry has committed before its fields are
 * opened or answered, and an entry that cannot be written (its insert or its commit fails, or too
 * many wait) answers 503 `service_unavailable` with nothing shown. (A read whose process dies
 * before its entry commits has shown nothing either.)
 *
 * How the entry is written depends on the clinic's other reads of the moment, decided once the
 * rows are read. A clinic with no read entry being written takes the entry in the read's own
 * transaction: one transaction, as a front end's one request at a time needs. While one is, the
 * read commits and its entry waits for the clinic's next group commit (application/group-commit.ts):
 * one insert and one commit for all of them, instead of each holding the clinic's chain head
 * through its own insert, round trip and commit.
 */
export class ReadLog {
  private readonly commits: GroupCommit<string, { context: AuditContext; entry: AuditEntry }>;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    limits: { maxBatch: number; maxWaiting: number; maxWaitingPerKey: number } = { maxBatch: 200, maxWaiting: 5_000, maxWaitingPerKey: 1_000 },
  ) {
    this.commits = new GroupCommit({
      ...limits,
      writeBatch: (tenantId, entries) => withTenant(db, tenantId, (trx) => recordAuditEntries(trx, entries)),
      unavailable: (reason) => new Error(`read log: ${reason}`),
    });
  }

  /**
   * Reads in the clinic's scope and logs the read: `entryOf` names the entry for what was read
   * (undefined: nothing was found, nothing to log). Resolves once the entry has committed.
   */
  async read<R>(tenantId: string, context: AuditContext, read: (trx: TenantTransaction) => Promise<R>, entryOf: (result: R) => AuditEntry | undefined): Promise<R> {
    let entry: AuditEntry | undefined;
    let release: (() => void) | undefined;
    let result: R;
    try {
      result = await withTenant(this.db, tenantId, async (trx) => {
        const found = await read(trx);
        entry = entryOf(found);
        // Decided after the read, with no await between the check and the claim: a slow read never
        // holds up the clinic's other entries, and an idle clinic's read stays one transaction.
        if (entry) release = this.commits.claim(tenantId);
        if (entry && release) await recordAudit(trx, context, entry);
        return found;
      });
    } catch (err) {
      // Past the read, whatever fails (the insert, the commit) is the log's failure: 503, nothing shown.
      if (entry && release) this.unavailable(err, entry);
      throw err;
    } finally {
      release?.();
    }
    if (entry && !release) {
      const queued = entry;
      await this.commits.write(tenantId, { context, entry: queued }).catch((err: unknown) => this.unavailable(err, queued));
    }
    return result;
  }

  private unavailable(err: unknown, entry: AuditEntry): never {
    this.log.error({ err: { message: (err as Error).message }, action: entry.action }, 'read log: entry not written; the read is answered 503');
    throw serviceUnavailable('The operation log could not record this read, so its data is withheld. Retry shortly.');
  }
}
