import { deliveryTotals, deliveryTotalsOf, findNotice, listNoticeMessages, markNoticeRead, noticesOfKind, messagesOf, noticeFeed, targetDeliveries, type MessageRow, type NoticeRow } from '../../db/notices';
import { withPlatform } from '../../db/platform-scope';
import { withTenant } from '../../db/tenant-scope';
import { isUuid } from '../../domain/ids';
import type { NoticeKind } from '../../domain/notices';
import { decodeCursor, decodeSeqCursor, encodeCursor, encodeSeqCursor } from '../../domain/pagination';
import { notFound } from '../../domain/problems';
import { noticeProgressQuery, type NoticeProgress } from '../../workflows/notice-messages';
import type { ClinicActor, Services } from '../deps';

/** A live view waits this long for the workflow's answer; without one the page still answers. */
const QUERY_DEADLINE_MS = 2_000;

const iso = (d: Date | string | null) => (d ? new Date(d).toISOString() : null);

function noticeView(n: Pick<NoticeRow, 'id' | 'kind' | 'reference' | 'title' | 'body' | 'severity' | 'status' | 'detectedAt' | 'effectiveAt' | 'urgent' | 'cveIds' | 'component' | 'createdAt' | 'updatedAt' | 'closedAt'>) {
  return {
    id: n.id,
    kind: n.kind,
    reference: n.reference,
    title: n.title,
    body: n.body,
    severity: n.severity,
    status: n.status,
    ...(n.kind === 'incident' ? { detectedAt: iso(n.detectedAt) } : {}),
    ...(n.kind === 'change' ? { effectiveAt: iso(n.effectiveAt), urgent: n.urgent } : {}),
    ...(n.kind === 'vulnerability' ? { cveIds: n.cveIds, component: n.component } : {}),
    createdAt: iso(n.createdAt)!,
    updatedAt: iso(n.updatedAt)!,
    closedAt: iso(n.closedAt),
  };
}

const messageView = (m: MessageRow) => ({ id: m.id, seq: m.seq, kind: m.kind, status: m.status, message: m.body, createdAt: iso(m.createdAt)! });

/**
 * The operators' list of one kind of notice, newest first, each with its delivery totals: a
 * notice found without its id (before, only Temporal's search or the database had them).
 */
export async function listNoticesOf(deps: Pick<Services, 'db'>, kind: NoticeKind, page: { limit: number; cursor?: string; open?: boolean }) {
  const before = decodeCursor(page.cursor);
  const { rows, next, totals } = await withPlatform(deps.db, async (trx) => {
    const listed = await noticesOfKind(trx, kind, { limit: page.limit, before, open: page.open });
    return { ...listed, totals: await deliveryTotalsOf(trx, listed.rows.map((n) => n.id)) };
  });
  return {
    items: rows.map((n) => ({ ...noticeView(n), workflowId: n.workflowId, totals: totals.get(n.id)! })),
    nextCursor: next && encodeCursor(next),
  };
}

/**
 * The operator's view of an incident or change notice: the notice, its messages, a page of
 * target clinics (in the order they were added) with each address's state per message, totals,
 * and the workflow's own live progress (its `progress` query; null when Temporal does not answer).
 */
export async function getNoticeDetail(
  deps: Pick<Services, 'db' | 'temporal'>,
  id: string,
  kind: NoticeKind,
  page: { limit: number; cursor?: string },
) {
  if (!isUuid(id)) throw notFound(`No such ${kind}.`);
  const afterSeq = Number(decodeSeqCursor(page.cursor) ?? 0);
  const found = await withPlatform(deps.db, async (trx) => {
    const notice = await findNotice(trx, id, kind);
    if (!notice) return undefined;
    const clinics = kind === 'vulnerability' ? [] : await targetDeliveries(trx, id, { afterSeq, limit: page.limit + 1 });
    return { notice, messages: await listNoticeMessages(trx, id), clinics, totals: await deliveryTotals(trx, id) };
  });
  if (!found) throw notFound(`No such ${kind}.`);
  const { notice, messages, clinics, totals } = found;
  const pageItems = clinics.slice(0, page.limit);
  let live: NoticeProgress | null = null;
  if (notice.workflowId) {
    live = await deps.temporal.connection
      .withDeadline(Date.now() + QUERY_DEADLINE_MS, () => deps.temporal.client.workflow.getHandle(notice.workflowId!).query(noticeProgressQuery))
      .catch(() => null);
  }
  return {
    ...noticeView(notice),
    workflowId: notice.workflowId,
    messages: messages.map(messageView),
    totals,
    clinics: pageItems.map((c) => ({
      tenantId: c.tenantId,
      name: c.clinicName,
      addedAt: iso(c.addedAt)!,
      deliveries: c.deliveries.map((d) => ({ ...d, sentAt: iso(d.sentAt), failedAt: iso(d.failedAt) })),
    })),
    nextCursor: clinics.length > page.limit ? encodeSeqCursor(pageItems.at(-1)!.addedSeq) : null,
    live,
  };
}

/** The top screen's feed for a signed-in user: what reached their clinic, newest first, read or not. */
export async function listNotices(deps: Pick<Services, 'db'>, actor: ClinicActor, q: { kind?: NoticeKind; limit: number; cursor?: string }) {
  const before = decodeCursor(q.cursor);
  return withTenant(deps.db, actor.tenantId, async (trx) => {
    const rows = await noticeFeed(trx, actor.accountId, { kind: q.kind, limit: q.limit + 1, before });
    const page = rows.slice(0, q.limit);
    const messages = page.length ? await messagesOf(trx, page.map((r) => r.id)) : new Map<string, MessageRow[]>();
    const last = page.at(-1);
    return {
      items: page.map((r) => ({ ...noticeView(r), read: r.readAt !== null, readAt: iso(r.readAt), messages: (messages.get(r.id) ?? []).map(messageView) })),
      nextCursor: rows.length > q.limit && last ? encodeCursor({ createdAt: last.cursorTs, id: last.id }) : null,
    };
  });
}

/** Read state is per account; a notice the clinic cannot see does not exist (404). */
export async function markRead(deps: Pick<Services, 'db'>, actor: ClinicActor, noticeId: string): Promise<void> {
  if (!isUuid(noticeId)) throw notFound('No such notice.');
  const ok = await withTenant(deps.db, actor.tenantId, (trx) => markNoticeRead(trx, actor.accountId, noticeId));
  if (!ok) throw notFound('No such notice.');
}
