import { boundExportTransaction, listAuditEvents, verifyAuditChain, type AuditRecord, type ChainVerification } from '../../db/audit';
import { withTenant } from '../../db/tenant-scope';
import { badRequest, tooManyRequests } from '../../domain/problems';
import type { ExportSlots } from '../../lib/export-slots';
import { decodeAuditCursor, encodeAuditCursor, resolveAuditFilter, type AuditFilterQuery, type AuditWindowLimits } from '../../domain/audit-query';
import type { ClinicActor, Services } from '../deps';

/** The operation log (操作ログ) screen: a page of entries, newest first, and the chain check. */
export async function listAuditLog(
  deps: Pick<Services, 'db'>,
  actor: ClinicActor,
  query: AuditFilterQuery & { cursor?: string; limit: number },
  limits: AuditWindowLimits,
): Promise<{ items: AuditRecord[]; nextCursor: string | null }> {
  const filter = resolveAuditFilter(query, limits);
  const beforeSeq = decodeAuditCursor(query.cursor);
  const page = await withTenant(deps.db, actor.tenantId, (trx) => listAuditEvents(trx, filter, { limit: query.limit, beforeSeq }));
  return { items: page.rows, nextCursor: page.nextBeforeSeq ? encodeAuditCursor(page.nextBeforeSeq) : null };
}

/**
 * The chain check reads every entry of the range (the whole log by default: seconds for a few
 * hundred thousand entries) on one pooled connection. It takes one of the long-read slots the CSV
 * export takes (one per clinic, EXPORT_CONCURRENCY per process; else 429 with Retry-After), so a
 * burst of checks from one clinic's screen cannot take the connections every clinic's requests need.
 */
export async function verifyAuditLog(
  deps: Pick<Services, 'db'> & { exports: ExportSlots },
  actor: ClinicActor,
  range: { fromSeq?: number; toSeq?: number },
): Promise<ChainVerification> {
  const busy = 'A check or export of this clinic\'s operation log is already running (or as many as the service allows at once). Retry shortly.';
  return inChainCheckSlot(deps.exports, actor.tenantId, busy, range, () =>
    withTenant(deps.db, actor.tenantId, async (trx) => {
      await boundExportTransaction(trx);
      return verifyAuditChain(trx, range);
    }),
  );
}

const VERIFY_RETRY_AFTER_SECONDS = 10;

/**
 * What every chain check (a clinic's log, the platform's) does around its walk: a reversed range
 * is 400 invalid_range; the walk runs in one of the long-read slots (`slot`: the clinic's id, or
 * the platform's key), else 429 with Retry-After.
 */
export async function inChainCheckSlot<T>(exports: ExportSlots, slot: string, busy: string, range: { fromSeq?: number; toSeq?: number }, check: () => Promise<T>): Promise<T> {
  if (range.fromSeq !== undefined && range.toSeq !== undefined && range.fromSeq > range.toSeq) {
    throw badRequest('invalid_range', 'fromSeq must not be after toSeq.');
  }
  const release = exports.tryAcquire(slot);
  if (!release) throw tooManyRequests('rate_limited', busy, VERIFY_RETRY_AFTER_SECONDS);
  try {
    return await check();
  } finally {
    release();
  }
}
