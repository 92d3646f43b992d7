import type { PlatformTransaction } from './platform-scope';
import { tenantIdOf, type TenantTransaction } from './tenant-scope';
import type { NoticeKind } from '../domain/notices';
import { CURSOR_TS_SQL, type Keyset } from '../domain/pagination';

/**
 * All SQL of notices (db/migrations/20261220000100_notices.ts). Platform functions take a
 * `withPlatform` transaction, clinic functions a `withTenant` one; row-level security checks
 * each again.
 */
const REFERENCE_PREFIX: Record<NoticeKind, string> = { incident: 'INC', change: 'CHG', vulnerability: 'VUL' };

/**
 * A reference people can read out on the phone: INC-2026-00042, numbered from 1 each year (in
 * Japan) and without gaps, so a register of incidents shows that none is missing: a sequence
 * would skip the number of a declaration that was refused and rolled back. Declarations are
 * rare: one lock per kind, held until commit, makes them take their numbers in turn.
 */
async function nextReference(trx: PlatformTransaction, kind: NoticeKind): Promise<string> {
  await trx.raw(`select pg_advisory_xact_lock(hashtext('notice_reference'), hashtext(?))`, [kind]);
  const { rows } = await trx.raw(
    `select to_char(now() at time zone 'Asia/Tokyo', 'YYYY') as year, coalesce(max(split_part(reference, '-', 3)::int), 0) + 1 as n
       from notices where kind = ? and split_part(reference, '-', 2) = to_char(now() at time zone 'Asia/Tokyo', 'YYYY')`,
    [kind],
  );
  const { year, n } = rows[0] as { year: string; n: number };
  return `${REFERENCE_PREFIX[kind]}-${year}-${String(n).padStart(5, '0')}`;
}

/** A clinic's own report (clinic-scoped: it cannot see other clinics' numbers, so a sequence numbers them). */
const reportReferenceSql = `'RPT-' || to_char(now() at time zone 'Asia/Tokyo', 'YYYY') || '-' || lpad(nextval('incident_report_reference')::text, 5, '0')`;

export interface NewNotice {
  kind: NoticeKind;
  title: string;
  body: string;
  severity?: string | null;
  status: string;
  detectedAt?: string | null;
  effectiveAt?: string | null;
  urgent?: boolean;
  cveIds?: string[];
  component?: string | null;
}

export async function insertNotice(trx: PlatformTransaction, n: NewNotice, workflowIdOf: (id: string) => string | null): Promise<{ id: string; reference: string }> {
  const { rows } = await trx.raw(
    `insert into notices (kind, reference, title, body, severity, status, detected_at, effective_at, urgent, cve_ids, component)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) returning id, reference`,
    [n.kind, await nextReference(trx, n.kind), n.title, n.body, n.severity ?? null, n.status, n.detectedAt ?? null, n.effectiveAt ?? null, n.urgent ?? false, n.cveIds ?? [], n.component ?? null],
  );
  const { id, reference } = rows[0] as { id: string; reference: string };
  const workflowId = workflowIdOf(id);
  if (workflowId) await trx.raw(`update notices set workflow_id = ? where id = ?`, [workflowId, id]);
  return { id, reference };
}

export interface NoticeRow {
  id: string;
  kind: NoticeKind;
  reference: string;
  title: string;
  body: string;
  severity: string | null;
  status: string;
  detectedAt: Date | null;
  effectiveAt: Date | null;
  urgent: boolean;
  cveIds: string[];
  component: string | null;
  workflowId: string | null;
  createdAt: Date;
  updatedAt: Date;
  closedAt: Date | null;
}

const NOTICE_COLUMNS = `id, kind, reference, title, body, severity, status, detected_at, effective_at, urgent, cve_ids, component, workflow_id, created_at, updated_at, closed_at`;

/**
 * Notices of a kind, newest first (keyset on creation, then id): the operators' list, so a notice
 * is found without its id. `open` keeps those not yet closed.
 */
export async function noticesOfKind(
  trx: PlatformTransaction,
  kind: NoticeKind,
  page: { limit: number; before?: Keyset; open?: boolean },
): Promise<{ rows: Array<NoticeRow & { cursorTs: string }>; next: Keyset | null }> {
  const q = trx('notices').select(trx.raw(NOTICE_COLUMNS), trx.raw(CURSOR_TS_SQL)).where({ kind }).orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(page.limit + 1);
  if (page.open) q.whereNull('closed_at');
  if (page.before) q.whereRaw('(created_at, id) < (?::timestamptz, ?::uuid)', [page.before.createdAt, page.before.id]);
  const found = (await q) as Array<NoticeRow & { cursorTs: string }>;
  const rows = found.slice(0, page.limit);
  return { rows, next: found.length > page.limit ? { createdAt: rows.at(-1)!.cursorTs, id: rows.at(-1)!.id } : null };
}

/** The notice, locked for the rest of the transaction when `lock` (updates to one notice queue). */
export async function findNotice(trx: PlatformTransaction, id: string, kind: NoticeKind, opts: { lock?: boolean } = {}): Promise<NoticeRow | undefined> {
  const q = trx('notices').where({ id, kind }).first(trx.raw(NOTICE_COLUMNS));
  if (opts.lock) q.forUpdate();
  return (await q) as NoticeRow | undefined;
}

export async function setNoticeStatus(trx: PlatformTransaction, id: string, status: string, closed: boolean): Promise<void> {
  await trx('notices')
    .where({ id })
    .update({ status, updatedAt: trx.fn.now(), ...(closed ? { closedAt: trx.fn.now() } : {}) });
}

export interface MessageRow {
  id: string;
  seq: number;
  kind: 'initial' | 'update' | 'reminder' | 'cancellation' | 'status';
  status: string | null;
  body: string | null;
  createdAt: Date;
}

/**
 * The notice's next message (callers hold the notice's row lock, so seq never collides). With a
 * dedupe key, a second call returns the message the first one made.
 */
export async function insertNoticeMessage(
  trx: PlatformTransaction,
  m: { noticeId: string; kind: MessageRow['kind']; status?: string | null; body?: string | null; dedupeKey?: string },
): Promise<{ id: string; seq: number }> {
  if (m.dedupeKey) {
    const existing = await trx('notice_messages').where({ noticeId: m.noticeId, dedupeKey: m.dedupeKey }).first('id', 'seq');
    if (existing) return existing as { id: string; seq: number };
  }
  const { rows } = await trx.raw(
    `insert into notice_messages (notice_id, seq, kind, status, body, dedupe_key)
     values (?, (select coalesce(max(seq), 0) + 1 from notice_messages where notice_id = ?), ?, ?, ?, ?) returning id, seq`,
    [m.noticeId, m.noticeId, m.kind, m.status ?? null, m.body ?? null, m.dedupeKey ?? null],
  );
  return rows[0] as { id: string; seq: number };
}

export async function countNoticeMessages(trx: PlatformTransaction, noticeId: string): Promise<number> {
  const row = await trx('notice_messages').where({ noticeId }).first(trx.raw('count(*)::int as n'));
  return (row as { n: number }).n;
}

export async function listNoticeMessages(trx: PlatformTransaction | TenantTransaction, noticeId: string): Promise<MessageRow[]> {
  return (await trx('notice_messages').where({ noticeId }).orderBy('seq').select('id', 'seq', 'kind', 'status', 'body', 'createdAt')) as MessageRow[];
}

/**
 * A clinic whose contract-end purge has begun is no one to tell: its data is (being) deleted, its
 * contract addresses erased, and a row written for it now would outlive the deletion certificate.
 */
const REACHABLE = `contract_state not in ('purging', 'purged')`;

/** Clinic ids among `ids` that do not exist, and those that exist but are purged (or being purged). */
export async function clinicsNotToTell(trx: PlatformTransaction, ids: string[]): Promise<{ unknown: string[]; purged: string[] }> {
  const { rows } = await trx.raw(
    `select u.id::text, t.contract_state from unnest(?::uuid[]) as u(id) left join tenants t on t.id = u.id where t.id is null or not (t.${REACHABLE})`,
    [ids],
  );
  const found = rows as Array<{ id: string; contract_state: string | null }>;
  return { unknown: found.filter((r) => r.contract_state === null).map((r) => r.id), purged: found.filter((r) => r.contract_state !== null).map((r) => r.id) };
}

/** Adds clinics (or every clinic there is now that is not purged) to the notice's targets; returns how many were new. */
export async function addNoticeTargets(trx: PlatformTransaction, noticeId: string, clinics: string[] | 'all'): Promise<number> {
  const { rowCount } =
    clinics === 'all'
      ? await trx.raw(`insert into notice_targets (notice_id, tenant_id) select ?, id from tenants where ${REACHABLE} order by id on conflict do nothing`, [noticeId])
      : await trx.raw(
          `insert into notice_targets (notice_id, tenant_id) select ?, t.id from unnest(?::uuid[]) as u(id) join tenants t on t.id = u.id where t.${REACHABLE} order by t.id on conflict do nothing`,
          [noticeId, clinics],
        );
  return rowCount ?? 0;
}

/** What a notice's workflow needs to plan its next fan-out (ids and counters only). */
export interface NoticePlan {
  status: string;
  closed: boolean;
  messageIds: string[];
  maxTargetSeq: number;
  /** How many clinics the notice has (added_seq is a position, not a count: it is shared by all notices). */
  targetCount: number;
  /** Change notices: the cancellation to mail, once there is one. */
  cancellationMessageId: string | null;
}

export async function noticePlan(trx: PlatformTransaction, noticeId: string): Promise<NoticePlan | undefined> {
  const notice = await trx('notices').where({ id: noticeId }).first('status', 'closedAt');
  if (!notice) return undefined;
  const messages = (await trx('notice_messages').where({ noticeId }).orderBy('seq').select('id', 'kind')) as Array<{ id: string; kind: string }>;
  const max = await trx('notice_targets').where({ noticeId }).first(trx.raw('coalesce(max(added_seq), 0)::bigint::text as m, count(*)::int as n'));
  return {
    status: notice.status,
    closed: notice.closedAt !== null,
    // A cancellation is mailed by itself, to those already told; it is not part of the series.
    messageIds: messages.filter((m) => m.kind !== 'cancellation').map((m) => m.id),
    maxTargetSeq: Number((max as { m: string }).m),
    targetCount: (max as { n: number }).n,
    cancellationMessageId: messages.find((m) => m.kind === 'cancellation')?.id ?? null,
  };
}

/**
 * Upper bounds of consecutive batches of `size` targets with added_seq in (after, upTo]: batch i
 * covers (bounds[i-1], bounds[i]]. The workflow passes only these numbers to its children.
 */
export async function batchBounds(trx: PlatformTransaction, noticeId: string, after: number, upTo: number, size: number): Promise<number[]> {
  const { rows } = await trx.raw(
    `select added_seq::text as s from (
       select added_seq, row_number() over (order by added_seq) as rn, count(*) over () as total
         from notice_targets where notice_id = ? and added_seq > ? and added_seq <= ?
     ) t where rn % ? = 0 or rn = total order by added_seq`,
    [noticeId, after, upTo, size],
  );
  return (rows as Array<{ s: string }>).map((r) => Number(r.s));
}

export interface TargetClinic {
  tenantId: string;
  contractEmails: string[];
}

export async function targetsInRange(trx: PlatformTransaction, noticeId: string, after: number, upTo: number): Promise<TargetClinic[]> {
  const { rows } = await trx.raw(
    // A clinic purged since it was targeted is skipped: nothing may be written for it any more.
    `select t.tenant_id, c.contract_emails from notice_targets t join tenants c on c.id = t.tenant_id
      where t.notice_id = ? and t.added_seq > ? and t.added_seq <= ? and c.${REACHABLE} order by t.added_seq`,
    [noticeId, after, upTo],
  );
  return (rows as Array<{ tenant_id: string; contract_emails: string[] }>).map((r) => ({ tenantId: r.tenant_id, contractEmails: r.contract_emails }));
}

/** Addresses of these clinics that received at least one of the notice's mails. */
export async function toldAddresses(trx: PlatformTransaction, noticeId: string, tenantIds: string[]): Promise<Set<string>> {
  const { rows } = await trx.raw(
    `select distinct tenant_id || ' ' || address as k from notice_deliveries where notice_id = ? and status = 'sent' and tenant_id = any(?::uuid[])`,
    [noticeId, tenantIds],
  );
  return new Set((rows as Array<{ k: string }>).map((r) => r.k));
}

/** Delivery rows for (message, clinic, address), created once; returns their ids in input order. */
export async function ensureDeliveries(
  trx: PlatformTransaction,
  noticeId: string,
  wanted: Array<{ messageId: string; tenantId: string; address: string }>,
): Promise<string[]> {
  if (wanted.length === 0) return [];
  const { rows } = await trx.raw(
    `with w as (select * from unnest(?::uuid[], ?::uuid[], ?::text[]) with ordinality as w(message_id, tenant_id, address, ord)),
     ins as (
       insert into notice_deliveries (notice_id, message_id, tenant_id, address)
       select ?, message_id, tenant_id, address from w order by ord
       on conflict (message_id, tenant_id, address) do nothing
       returning id, message_id, tenant_id, address
     ),
     found as (
       select id, message_id, tenant_id, address from ins
       union all
       select d.id, d.message_id, d.tenant_id, d.address from notice_deliveries d join w using (message_id, tenant_id, address)
     )
     select distinct on (w.ord) f.id from w join found f using (message_id, tenant_id, address) order by w.ord`,
    [wanted.map((w) => w.messageId), wanted.map((w) => w.tenantId), wanted.map((w) => w.address), noticeId],
  );
  return (rows as Array<{ id: string }>).map((r) => r.id);
}

/** Everything the mail for one delivery row needs, read when it is sent (never carried in history). */
export interface DeliveryMail {
  id: string;
  tenantId: string;
  address: string;
  status: 'pending' | 'sent' | 'failed';
  clinicName: string;
  notice: Pick<NoticeRow, 'id' | 'kind' | 'reference' | 'title' | 'body' | 'severity' | 'status' | 'detectedAt' | 'effectiveAt' | 'urgent'>;
  message: Pick<MessageRow, 'id' | 'seq' | 'kind' | 'status' | 'body'>;
}

export async function deliveryMail(trx: PlatformTransaction, id: string): Promise<DeliveryMail | undefined> {
  const { rows } = await trx.raw(
    `select d.id, d.tenant_id, d.address, d.status, t.name as clinic_name,
            n.id as n_id, n.kind as n_kind, n.reference, n.title, n.body as n_body, n.severity, n.status as n_status, n.detected_at, n.effective_at, n.urgent,
            m.id as m_id, m.seq, m.kind as m_kind, m.status as m_status, m.body as m_body
       from notice_deliveries d join notices n on n.id = d.notice_id join notice_messages m on m.id = d.message_id join tenants t on t.id = d.tenant_id
      where d.id = ?`,
    [id],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    id: r.id,
    tenantId: r.tenant_id,
    address: r.address,
    status: r.status,
    clinicName: r.clinic_name,
    notice: { id: r.n_id, kind: r.n_kind, reference: r.reference, title: r.title, body: r.n_body, severity: r.severity, status: r.n_status, detectedAt: r.detected_at, effectiveAt: r.effective_at, urgent: r.urgent },
    message: { id: r.m_id, seq: r.seq, kind: r.m_kind, status: r.m_status, body: r.m_body },
  };
}

export async function recordDelivery(
  trx: PlatformTransaction,
  id: string,
  outcome: { status: 'sent'; resentInDoubt?: boolean } | { status: 'failed'; error: string } | { status: 'pending'; error: string },
): Promise<void> {
  await trx('notice_deliveries')
    .where({ id })
    .whereNot({ status: 'sent' })
    .update({
      status: outcome.status,
      error: outcome.status === 'sent' ? null : outcome.error,
      attempts: trx.raw('attempts + 1'),
      updatedAt: trx.fn.now(),
      ...(outcome.status === 'sent' ? { sentAt: trx.fn.now(), ...(outcome.resentInDoubt ? { resentInDoubt: true } : {}) } : outcome.status === 'failed' ? { failedAt: trx.fn.now() } : {}),
    });
}

export interface TargetDeliveries {
  tenantId: string;
  clinicName: string;
  addedAt: Date;
  addedSeq: number;
  deliveries: Array<{ messageId: string; address: string; status: string; error: string | null; attempts: number; resentInDoubt: boolean; sentAt: Date | null; failedAt: Date | null }>;
}

/** The operator's view: a page of targets (in the order they were added) with every delivery row. */
export async function targetDeliveries(trx: PlatformTransaction, noticeId: string, opts: { afterSeq: number; limit: number }): Promise<TargetDeliveries[]> {
  const { rows } = await trx.raw(
    `select t.tenant_id, c.name, t.added_at, t.added_seq::text as added_seq,
            coalesce((select json_agg(json_build_object('messageId', d.message_id, 'address', d.address, 'status', d.status, 'error', d.error,
                        'attempts', d.attempts, 'resentInDoubt', d.resent_in_doubt, 'sentAt', d.sent_at, 'failedAt', d.failed_at) order by d.address, m.seq)
                        from notice_deliveries d join notice_messages m on m.id = d.message_id
                       where d.notice_id = t.notice_id and d.tenant_id = t.tenant_id), '[]') as deliveries
       from notice_targets t join tenants c on c.id = t.tenant_id
      where t.notice_id = ? and t.added_seq > ? order by t.added_seq limit ?`,
    [noticeId, opts.afterSeq, opts.limit],
  );
  return (rows as Array<Record<string, any>>).map((r) => ({
    tenantId: r.tenant_id,
    clinicName: r.name,
    addedAt: r.added_at,
    addedSeq: Number(r.added_seq),
    deliveries: r.deliveries,
  }));
}

export interface DeliveryTotals {
  clinics: number;
  pending: number;
  sent: number;
  failed: number;
}

export async function deliveryTotals(trx: PlatformTransaction, noticeId: string): Promise<DeliveryTotals> {
  return (await deliveryTotalsOf(trx, [noticeId])).get(noticeId)!;
}

/**
 * The totals of several notices in one statement (a page of the operators' list asked two queries
 * per notice before). Every id asked for is in the map, with zeros where nothing was sent yet.
 */
export async function deliveryTotalsOf(trx: PlatformTransaction, noticeIds: readonly string[]): Promise<Map<string, DeliveryTotals>> {
  if (noticeIds.length === 0) return new Map();
  const { rows } = await trx.raw(
    `select n.id,
            (select count(*)::int from notice_targets t where t.notice_id = n.id) as clinics,
            d.pending, d.sent, d.failed
       from unnest(?::uuid[]) as n (id)
       cross join lateral (
         select count(*) filter (where status = 'pending')::int as pending,
                count(*) filter (where status = 'sent')::int as sent,
                count(*) filter (where status = 'failed')::int as failed
           from notice_deliveries where notice_id = n.id
       ) d`,
    [[...noticeIds]],
  );
  return new Map((rows as Array<DeliveryTotals & { id: string }>).map(({ id, ...totals }) => [id, totals]));
}

// ---- the clinic's side ----------------------------------------------------------------------

/** The notice has reached the clinic: from now on its users see it on their top screen. */
export async function markNoticeReached(trx: TenantTransaction, noticeId: string): Promise<void> {
  await trx.raw(`insert into clinic_notices (tenant_id, notice_id) values (?, ?) on conflict do nothing`, [tenantIdOf(trx)!, noticeId]);
}

export interface FeedRow extends NoticeRow {
  readAt: Date | null;
  cursorTs: string;
}

/**
 * The top screen, newest first. Row-level security already limits `notices` to the clinic's own
 * incidents and changes plus vulnerability notices; the kind filter and "open" rules are here.
 * Without a kind: open vulnerabilities, changes still to come, and every incident. With a kind:
 * every notice of that kind the clinic can see.
 */
export async function noticeFeed(
  trx: TenantTransaction,
  accountId: string,
  opts: { kind?: NoticeKind; limit: number; before?: { createdAt: string; id: string } },
): Promise<FeedRow[]> {
  const where: string[] = [];
  const bindings: unknown[] = [accountId];
  if (opts.kind) {
    where.push('n.kind = ?');
    bindings.push(opts.kind);
  } else {
    where.push(`(n.kind = 'incident' or (n.kind = 'change' and n.status = 'scheduled') or (n.kind = 'vulnerability' and n.status <> 'resolved'))`);
  }
  if (opts.before) {
    where.push('(n.created_at, n.id) < (?::timestamptz, ?::uuid)');
    bindings.push(opts.before.createdAt, opts.before.id);
  }
  bindings.push(opts.limit);
  const { rows } = await trx.raw(
    `select n.id, n.kind, n.reference, n.title, n.body, n.severity, n.status, n.detected_at, n.effective_at, n.urgent, n.cve_ids,
            n.component, n.created_at, n.updated_at, n.closed_at, r.read_at,
            to_char(n.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_ts
       from notices n left join notice_reads r on r.notice_id = n.id and r.account_id = ?
      where ${where.join(' and ')} order by n.created_at desc, n.id desc limit ?`,
    bindings as never,
  );
  return (rows as Array<Record<string, any>>).map((r) => ({
    id: r.id,
    kind: r.kind,
    reference: r.reference,
    title: r.title,
    body: r.body,
    severity: r.severity,
    status: r.status,
    detectedAt: r.detected_at,
    effectiveAt: r.effective_at,
    urgent: r.urgent,
    cveIds: r.cve_ids,
    component: r.component,
    workflowId: null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    closedAt: r.closed_at,
    readAt: r.read_at,
    cursorTs: r.cursor_ts,
  }));
}

export async function messagesOf(trx: TenantTransaction, noticeIds: string[]): Promise<Map<string, MessageRow[]>> {
  const rows = (await trx('notice_messages').whereIn('noticeId', noticeIds).orderBy(['noticeId', 'seq']).select('noticeId', 'id', 'seq', 'kind', 'status', 'body', 'createdAt')) as Array<
    MessageRow & { noticeId: string }
  >;
  const out = new Map<string, MessageRow[]>();
  for (const { noticeId, ...m } of rows) out.set(noticeId, [...(out.get(noticeId) ?? []), m]);
  return out;
}

/** Marks the notice read for the account; false when the clinic cannot see such a notice. */
export async function markNoticeRead(trx: TenantTransaction, accountId: string, noticeId: string): Promise<boolean> {
  const visible = await trx('notices').where({ id: noticeId }).first('id');
  if (!visible) return false;
  await trx.raw(`insert into notice_reads (tenant_id, account_id, notice_id) values (?, ?, ?) on conflict do nothing`, [tenantIdOf(trx)!, accountId, noticeId]);
  return true;
}

export async function insertIncidentReport(trx: TenantTransaction, r: { accountId: string; description: string; contact: string }): Promise<{ id: string; reference: string }> {
  const { rows } = await trx.raw(
    `insert into incident_reports (tenant_id, reference, account_id, description, contact)
     values (?, ${reportReferenceSql}, ?, ?, ?) returning id, reference`,
    [tenantIdOf(trx)!, r.accountId, r.description, r.contact],
  );
  return rows[0] as { id: string; reference: string };
}

export async function findIncidentReport(trx: TenantTransaction, id: string): Promise<{ id: string; reference: string; description: string; contact: string; createdAt: Date } | undefined> {
  return (await trx('incident_reports').where({ id }).first('id', 'reference', 'description', 'contact', 'createdAt')) as never;
}
