import { recordAudit, recordAuditEntries, type AuditContext, type AuditEntry } from '../../db/audit';
import type { Db } from '../../db/connection';
import { withTenant, type TenantTransaction } from '../../db/tenant-scope';
import { serviceUnavailable } from '../../domain/problems';
import type { Logger } from '../../lib/logger';
import { GroupCommit } from '../group-commit';

/**
 * The operation-log entries of reads (a patient search, a patient's record, a consultation's
 * record). No data is handed out unlogged: a read's entry has committed before its fields are
 * opened or answered, and an entry that cannot be written answers 503 `service_unavailable` (as
 * the same failure did inside the read's transaction) with nothing shown. (A read whose process
 * dies before its entry commits has shown nothing either.)
 *
 * How the entry is written depends on the clinic's other reads of the moment. A clinic with no
 * read being logged writes the entry in the read's own transaction: one transaction, as a front
 * end's one request at a time needs. While one is, further reads of that clinic read their rows in
 * a transaction of their own and their entries wait for the clinic's next group commit
 * (application/group-commit.ts): one insert and one commit for all of them, instead of each
 * holding the clinic's chain head through its own insert, round trip and commit.
 */
export class ReadLog {
  private readonly commits: GroupCommit<string, { context: AuditContext; entry: AuditEntry }>;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    limits: { maxBatch: number; maxWaiting: number } = { maxBatch: 200, maxWaiting: 5_000 },
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
    const inline = await this.commits.whenIdle(tenantId, () =>
      withTenant(this.db, tenantId, async (trx) => {
        const result = await read(trx);
        const entry = entryOf(result);
        if (entry) await recordAudit(trx, context, entry).catch((err: unknown) => this.unavailable(err, entry));
        return result;
      }),
    );
    if (inline.ran) return inline.value;
    const result = await withTenant(this.db, tenantId, read);
    const entry = entryOf(result);
    if (entry) await this.commits.write(tenantId, { context, entry }).catch((err: unknown) => this.unavailable(err, entry));
    return result;
  }

  private unavailable(err: unknown, entry: AuditEntry): never {
    this.log.error({ err: { message: (err as Error).message }, action: entry.action }, 'read log: entry not written; the read is answered 503');
    throw serviceUnavailable('The operation log could not record this read, so its data is withheld. Retry shortly.');
  }
}
