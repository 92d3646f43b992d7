import { consultationFieldContext } from '../../activities/consultations';
import { consultationTimeline, findConsultation, listConsultations, listOutstanding as findOutstanding, type ConsultationRow, type TimelineEvent } from '../../db/consultations';
import { withTenant } from '../../db/tenant-scope';
import type { ConsultationStatus } from '../../domain/consultation';
import { isUuid } from '../../domain/ids';
import { isJapanDate, japanDateOf, japanDayRange } from '../../domain/japan-time';
import { decodeCursor, encodeCursor } from '../../domain/pagination';
import { badRequest, notFound } from '../../domain/problems';
import type { ClinicActor, Services } from '../deps';

/** The desk's day list: consultations starting on one Japan date, by start time. */
export async function listDay(
  deps: Pick<Services, 'db'>,
  actor: ClinicActor,
  q: { date: string; practitionerId?: string; status?: ConsultationStatus },
): Promise<ConsultationRow[]> {
  // A date that does not exist (2026-02-30) or lies outside any sensible schedule is refused, not rolled over.
  if (!isJapanDate(q.date)) throw badRequest('validation_failed', 'date is not a real date');
  const { start: from, end: to } = japanDayRange(q.date);
  return withTenant(deps.db, actor.tenantId, (trx) => listConsultations(trx, { from, to, practitionerId: q.practitionerId, status: q.status }));
}

/**
 * The desk's list of visits left open: begun before the Japan date `before` (default today) and
 * not yet completed, cancelled or a no-show — checked in but never seen, seen but never finished,
 * finished but unpaid, or still reserved after their time (a no-show that did not fire; a
 * reservation still ahead is not listed) — oldest first, so nothing is forgotten because its day
 * has gone off the day list.
 */
export async function listOutstanding(
  deps: Pick<Services, 'db'>,
  actor: ClinicActor,
  q: { before?: string; practitionerId?: string; limit: number; cursor?: string },
  now: Date = new Date(),
): Promise<{ items: ConsultationRow[]; nextCursor: string | null }> {
  const before = q.before ?? japanDateOf(now);
  if (!isJapanDate(before)) throw badRequest('validation_failed', 'before is not a real date');
  const after = decodeCursor(q.cursor);
  const rows = await withTenant(deps.db, actor.tenantId, (trx) =>
    findOutstanding(trx, { before: japanDayRange(before).start, now, practitionerId: q.practitionerId, after, limit: q.limit + 1 }),
  );
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return { items: page, nextCursor: rows.length > q.limit && last ? encodeCursor({ createdAt: last.cursorTs, id: last.id }) : null };
}

export interface ConsultationRecord {
  row: ConsultationRow;
  questionnaire: unknown;
  note: string | null;
  prescriptions: unknown;
  timeline: TimelineEvent[];
}

/**
 * One consultation with its clinical record. Reading it is logged before anything is opened or
 * answered (application/audit/read-log.ts); the sealed fields are opened after the read's
 * transaction (no connection is held while keys load).
 */
export async function readConsultation(deps: Pick<Services, 'vault' | 'readLog'>, actor: ClinicActor, id: string): Promise<ConsultationRecord> {
  const found = isUuid(id)
    ? await deps.readLog.read(
        actor.tenantId,
        actor.audit,
        async (trx) => {
          const row = await findConsultation(trx, id);
          return row ? { row, timeline: await consultationTimeline(trx, id) } : undefined;
        },
        (read) => (read ? { action: 'consultation.read', outcome: 'success', targetType: 'consultation', targetId: id } : undefined),
      )
    : undefined;
  if (!found) throw notFound('No such consultation.');
  const { row } = found;
  const open = async (field: 'questionnaire' | 'note' | 'prescriptions', sealed: Buffer | null) =>
    sealed ? deps.vault.decryptText(actor.tenantId, consultationFieldContext(row.id, field), sealed) : null;
  const [questionnaire, note, prescriptions] = await Promise.all([open('questionnaire', row.questionnaireSealed), open('note', row.noteSealed), open('prescriptions', row.prescriptionsSealed)]);
  return {
    row,
    questionnaire: questionnaire === null ? null : JSON.parse(questionnaire),
    note,
    prescriptions: prescriptions === null ? null : JSON.parse(prescriptions),
    timeline: found.timeline,
  };
}
