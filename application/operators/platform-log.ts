import { boundExportTransaction, type ChainVerification } from '../../db/audit';
import { listPlatformEntries, verifyPlatformChain, type PlatformRecord } from '../../db/platform-log';
import { withPlatform } from '../../db/platform-scope';
import { decodeAuditCursor, encodeAuditCursor, resolveAuditFilter, type AuditFilterQuery, type AuditWindowLimits } from '../../domain/audit-query';
import { inChainCheckSlot } from '../audit/read-audit-log';
import type { ExportSlots } from '../../lib/export-slots';
import type { Services } from '../deps';

/**
 * The platform operation log, read by the provider's security team and platform admins: what
 * every operator, API key and break-glass use did, newest first, filtered as a clinic's log screen
 * is, and its hash chain checked. Reading it is itself an entry (every operator request is).
 */
export async function listPlatformLog(
  deps: Pick<Services, 'db'>,
  query: AuditFilterQuery & { cursor?: string; limit: number },
  limits: AuditWindowLimits,
): Promise<{ items: PlatformRecord[]; nextCursor: string | null }> {
  const filter = resolveAuditFilter(query, limits);
  const beforeSeq = decodeAuditCursor(query.cursor);
  const page = await withPlatform(deps.db, (trx) => listPlatformEntries(trx, filter, { limit: query.limit, beforeSeq }));
  return { items: page.rows, nextCursor: page.nextBeforeSeq ? encodeAuditCursor(page.nextBeforeSeq) : null };
}

/** The slot key of the platform log's check among the long reads (a clinic's are keyed by its id). */
const PLATFORM_SLOT = 'platform';

/**
 * Walks the platform chain over a range (all of it by default) on one pooled connection, in one
 * of the long-read slots a clinic's check or CSV export takes (429 with Retry-After otherwise), in
 * a transaction bounded as theirs are.
 */
export async function verifyPlatformLog(deps: Pick<Services, 'db'> & { exports: ExportSlots }, range: { fromSeq?: number; toSeq?: number }): Promise<ChainVerification> {
  const busy = 'A check of the platform operation log is already running (or as many long reads as the service allows at once). Retry shortly.';
  return inChainCheckSlot(deps.exports, PLATFORM_SLOT, busy, range, () =>
    withPlatform(deps.db, async (trx) => {
      await boundExportTransaction(trx);
      return verifyPlatformChain(trx, range);
    }),
  );
}
