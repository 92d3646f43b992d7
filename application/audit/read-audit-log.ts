import { listAuditEvents, verifyAuditChain, type AuditRecord, type ChainVerification } from '../../db/audit';
import { withTenant } from '../../db/tenant-scope';
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

export function verifyAuditLog(deps: Pick<Services, 'db'>, actor: ClinicActor, range: { fromSeq?: number; toSeq?: number }): Promise<ChainVerification> {
  return withTenant(deps.db, actor.tenantId, (trx) => verifyAuditChain(trx, range));
}
