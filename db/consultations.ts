import type { AuditContext } from './audit';
import { ENDED, type ConsultationMode, type ConsultationStatus } from '../domain/consultation';
import type { Keyset } from '../domain/pagination';
import { BOOKING_HORIZON_DAYS } from '../domain/booking-horizon';
import { isUuid } from '../domain/ids';
import type { Practitioner } from '../domain/practitioner';
import { liveVisitsOverlapping, practitionerFrom, practitionerSql, type PractitionerRecord } from './practitioners';
import { tenantIdOf, type TenantTransaction } from './tenant-scope';
import type { ContractState } from '../domain/contract';

/**
 * Consultations of one clinic. Every function runs inside that clinic's withTenant()
 * transaction. Sealed clinical fields are returned as ciphertext; only the application layer
 * opens them, outside any transaction.
 */
export interface ConsultationRow {
  id: string;
  tenantId: string;
  patientId: string;
  practitionerId: string;
  startsAt: Date;
  endsAt: Date;
  mode: ConsultationMode;
  status: ConsultationStatus;
  workflowId: string;
  idempotencyKey: string | null;
  /** The start the booking asked for (a reschedule moves startsAt); null for bookings made before it was kept. */
  bookedStartsAt: Date | null;
  paymentAmount: number | null;
  paymentMethod: string | null;
  questionnaireSealed: Buffer | null;
  noteSealed: Buffer | null;
  prescriptionsSealed: Buffer | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface TimelineEvent {
  type: string;
  status: string;
  occurredAt: Date;
  details: Record<string, unknown>;
}

export async function findConsultation(trx: TenantTransaction, id: string): Promise<ConsultationRow | undefined> {
  return trx('consultations').where({ id }).first();
}

export async function findByIdempotencyKey(trx: TenantTransaction, key: string): Promise<ConsultationRow | undefined> {
  return trx('consultations').where({ idempotency_key: key }).first();
}

export async function insertConsultation(
  trx: TenantTransaction,
  row: Pick<ConsultationRow, 'id' | 'tenantId' | 'patientId' | 'practitionerId' | 'startsAt' | 'endsAt' | 'mode' | 'workflowId' | 'idempotencyKey'> & { createdBy: string },
): Promise<ConsultationRow> {
  const [created] = await trx('consultations')
    .insert({
      id: row.id,
      tenant_id: row.tenantId,
      patient_id: row.patientId,
      practitioner_id: row.practitionerId,
      starts_at: row.startsAt,
      booked_starts_at: row.startsAt,
      ends_at: row.endsAt,
      mode: row.mode,
      status: 'reserved',
      workflow_id: row.workflowId,
      idempotency_key: row.idempotencyKey,
      created_by: row.createdBy,
    })
    .returning('*');
  return created as ConsultationRow;
}

export async function listConsultations(
  trx: TenantTransaction,
  f: { from: Date; to: Date; practitionerId?: string; status?: ConsultationStatus },
): Promise<ConsultationRow[]> {
  const q = trx('consultations').where('starts_at', '>=', f.from).where('starts_at', '<', f.to).orderBy([{ column: 'starts_at' }, { column: 'id' }]);
  if (f.practitionerId) q.where({ practitioner_id: f.practitionerId });
  if (f.status) q.where({ status: f.status });
  return q;
}

/**
 * A visit that has not reached an end: the predicate of the partial index of open visits
 * (20270112000002_outstanding_visits), written out, not bound, because the planner matches an
 * index's predicate only against literals.
 */
const OPEN_VISIT = `status not in (${ENDED.map((e) => `'${e}'`).join(', ')})`;

/**
 * Visits that began before `before` and have not reached an end (completed, cancelled, no-show),
 * oldest first, keyset-paginated on (starts_at, id): the desk's list of what was left open. Served
 * by a partial index of open visits only, so a clinic's years of closed visits are never read.
 */
export async function listOutstanding(
  trx: TenantTransaction,
  f: { before: Date; now: Date; practitionerId?: string; after?: Keyset; limit: number },
): Promise<Array<ConsultationRow & { cursorTs: string }>> {
  const q = trx('consultations')
    .select('*', trx.raw(`to_char(starts_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_ts`))
    .where({ tenant_id: tenantIdOf(trx) })
    .whereRaw(OPEN_VISIT)
    .where('starts_at', '<', f.before)
    // A reservation is left open only once its time has come: one still ahead is a booking, and
    // the only kind a reschedule moves (to a slot before a page's cursor, it was skipped).
    .whereRaw(`not (status = 'reserved' and starts_at > ?)`, [f.now])
    .orderBy([{ column: 'starts_at' }, { column: 'id' }])
    .limit(f.limit);
  if (f.practitionerId) void q.where({ practitioner_id: f.practitionerId });
  if (f.after) void q.whereRaw('(starts_at, id) > (?::timestamptz, ?::uuid)', [f.after.createdAt, f.after.id]);
  return q;
}

export async function consultationTimeline(trx: TenantTransaction, id: string): Promise<TimelineEvent[]> {
  return trx('consultation_events').where({ consultation_id: id }).orderBy('id').select('type', 'status', 'occurred_at', 'details');
}

export interface BookingLookups {
  /** The booking an earlier request with the same Idempotency-Key made, if any. */
  earlier?: ConsultationRow;
  patientExists: boolean;
  /** Undefined when the clinic has no such doctor. */
  practitioner?: Practitioner;
  /**
   * The clinic's contract as of now, read under the clinic's state lock (held shared since BEGIN:
   * a clinic write): the contract end's step that makes the clinic read-only waits for this
   * booking to commit and then cancels it with the others, or this booking waited for it and sees
   * the clinic read-only.
   */
  contract: { state: ContractState; endsAt: Date | null; suspended: boolean };
  /** How many days ahead the clinic takes bookings (domain/booking-horizon.ts). */
  horizonDays: number;
}

/**
 * One doctor's bookings change one at a time (a booking, a reschedule), until commit: a unique
 * index can refuse the same start twice but not 09:00 beside 09:05, so each change checks for an
 * overlap (overlapsBooking) after taking this lock, in a statement of its own that sees every
 * change committed before it. Another doctor's bookings do not wait.
 */
const practitionerSlotsLock = `pg_advisory_xact_lock(hashtext('practitioner_slots'), hashtext(?::text))`;

export async function lockPractitionerSlots(trx: TenantTransaction, practitionerId: string): Promise<void> {
  await trx.raw(`select ${practitionerSlotsLock}`, [practitionerId]);
}

/** Does a live consultation of the doctor (other than `except`) overlap startsAt..endsAt? Under lockPractitionerSlots. */
export async function overlapsBooking(trx: TenantTransaction, q: { practitionerId: string; startsAt: Date; endsAt: Date; except?: string }): Promise<boolean> {
  const visits = liveVisitsOverlapping(trx, q.practitionerId, q.startsAt, q.endsAt);
  if (q.except) void visits.whereNot({ id: q.except });
  return (await visits.first('id')) !== undefined;
}

/**
 * What a booking checks before it inserts, in one round trip instead of five: the earlier
 * booking with this Idempotency-Key, whether the patient exists, and the doctor with their
 * availability; it also takes the doctor's slots lock (lockPractitionerSlots) for the overlap
 * check that follows. The earlier booking's row is read in full only when there is one (a retry).
 */
export async function bookingLookups(trx: TenantTransaction, q: { idempotencyKey: string; patientId: string; practitionerId: string }): Promise<BookingLookups> {
  const { rows } = await trx.raw(
    `select (select id from consultations where idempotency_key = ?) as earlier_id,
            exists (select 1 from patients where id = ?::uuid) as patient_exists,
            (select row_to_json(p) from (${practitionerSql('p.id = ?::uuid')}) p) as practitioner,
            t.contract_state, t.contract_ends_at, t.status, ${practitionerSlotsLock} as slots_locked,
            (select s.booking_horizon_days from tenant_settings s where s.tenant_id = t.id) as horizon_days
       from (select id, status, contract_state, contract_ends_at from tenants where id = ?::uuid) t`,
    [q.idempotencyKey, isUuid(q.patientId) ? q.patientId : null, ...Array(2).fill(isUuid(q.practitionerId) ? q.practitionerId : null), tenantIdOf(trx)!],
  );
  const r = rows[0] as {
    earlier_id: string | null; patient_exists: boolean; practitioner: PractitionerRecord | null; contract_state: ContractState; contract_ends_at: Date | null; status: string;
    horizon_days: number | null;
  };
  return {
    earlier: r.earlier_id ? await findConsultation(trx, r.earlier_id) : undefined,
    patientExists: r.patient_exists,
    practitioner: r.practitioner ? practitionerFrom(r.practitioner) : undefined,
    contract: { state: r.contract_state, endsAt: r.contract_ends_at, suspended: r.status === 'suspended' },
    // Row-level security shows the clinic's own settings row only; none yet means the default.
    horizonDays: r.horizon_days ?? BOOKING_HORIZON_DAYS.default,
  };
}

/** An Idempotency-Key's row: which consultation, action and request it stands for (hashes only). */
export interface ActionKeyRow {
  consultationId: string;
  action: string;
  keyHash: string;
  requestHash: string;
}

type ActionKeyState = { state: 'open' | 'done' | 'reused'; attempt: number };

const actionKeyStateOf = (row: { requestHash: string | null; attempt: number; doneAttempt: number | null }, k: ActionKeyRow): ActionKeyState =>
  row.requestHash !== k.requestHash ? { state: 'reused', attempt: row.attempt } : row.doneAttempt === null ? { state: 'open', attempt: row.attempt } : { state: 'done', attempt: row.doneAttempt };

const readActionKey = (trx: TenantTransaction, k: ActionKeyRow) =>
  trx('consultation_action_keys').where({ consultation_id: k.consultationId, key_hash: k.keyHash }).first('request_hash', 'attempt', 'done_attempt') as Promise<
    { requestHash: string | null; attempt: number; doneAttempt: number | null } | undefined
  >;

/**
 * What the key stands for now, without claiming it: undefined when it stands for nothing (never
 * used, or let go after a refusal), so that the request may still be refused by a rule before it
 * binds the key.
 */
export async function peekActionKey(trx: TenantTransaction, k: ActionKeyRow): Promise<ActionKeyState | undefined> {
  const row = await readActionKey(trx, k);
  return row && row.requestHash !== null ? actionKeyStateOf(row, k) : undefined;
}

/**
 * Claims an Idempotency-Key on one consultation for the request (action and body) whose hash is
 * given. `reused` when it was claimed for a different request (another body or action); `done`
 * when a request with it was answered with the action, and under which attempt; `open` otherwise
 * (new, let go after a refusal, or its requests so far unanswered), with the attempt to send now.
 * A key let go is bound by whichever request claims it first (the update waits on the row lock).
 * `fresh`: this claim bound the key (no earlier request with it may have sent an update under
 * this attempt).
 */
export async function claimActionKey(trx: TenantTransaction, k: ActionKeyRow): Promise<ActionKeyState & { fresh: boolean }> {
  const inserted = await trx.raw(
    `insert into consultation_action_keys (tenant_id, consultation_id, action, key_hash, request_hash) values (?, ?, ?, ?, ?)
     on conflict do nothing`,
    [tenantIdOf(trx)!, k.consultationId, k.action, k.keyHash, k.requestHash],
  );
  let fresh = (inserted.rowCount ?? 0) > 0;
  let row = (await readActionKey(trx, k))!;
  if (row.requestHash === null) {
    fresh = (await trx('consultation_action_keys')
      .where({ consultation_id: k.consultationId, key_hash: k.keyHash })
      .whereNull('request_hash')
      .update({ request_hash: k.requestHash, action: k.action })) > 0;
    row = (await readActionKey(trx, k))!;
  }
  return { ...actionKeyStateOf(row, k), fresh };
}

/**
 * Records that the action sent under the key's `attempt` was done. True for the request that did
 * it; false when an earlier request with the key had already been answered with it (this one is a
 * repeat).
 */
export async function markActionKeyDone(trx: TenantTransaction, k: ActionKeyRow, attempt: number): Promise<boolean> {
  // Also a key let go just after this request's update was sent (a concurrent request with the
  // same body refused by a rule that had changed in between) and not bound again since: it
  // stands for this request again, so that nobody's next request acts a second time under it.
  const done = await trx('consultation_action_keys')
    .where({ consultation_id: k.consultationId, key_hash: k.keyHash })
    .where((q) => q.where({ request_hash: k.requestHash }).orWhere((r) => r.whereNull('request_hash').where({ attempt: attempt + 1 })))
    .whereNull('done_at')
    .update({ done_at: trx.fn.now(), done_attempt: attempt, request_hash: k.requestHash, action: k.action });
  return done > 0;
}

/**
 * The workflow refused the request sent under `attempt`, so nothing was done: the key is let go
 * (it stands for no request until its next one binds it) and that request goes out as the next
 * attempt, under an update id Temporal has not answered yet. Conditional, so that concurrent
 * refusals of one attempt let it go once.
 */
export async function releaseActionKey(trx: TenantTransaction, k: ActionKeyRow, attempt: number): Promise<void> {
  await trx('consultation_action_keys')
    .where({ consultation_id: k.consultationId, key_hash: k.keyHash, request_hash: k.requestHash, attempt })
    .whereNull('done_at')
    .update({ attempt: attempt + 1, request_hash: null });
}

/**
 * Who asks for an action, kept under the update's id before the update is sent (a repeat of the
 * same id keeps the first). See db/migrations/20270110000002_consultation_action_intents.ts.
 */
export async function recordActionIntent(trx: TenantTransaction, i: { updateId: string; consultationId: string; action: string; context: AuditContext }): Promise<void> {
  await trx.raw(
    `insert into consultation_action_intents (tenant_id, update_id, consultation_id, action, context) values (?, ?, ?, ?, ?::jsonb)
     on conflict do nothing`,
    [tenantIdOf(trx)!, i.updateId, i.consultationId, i.action, JSON.stringify(i.context)],
  );
}

/**
 * Takes the intent of an update of this consultation (an update's id is only unique within its
 * workflow) whose entry is not written yet, marking it written: the caller
 * writes the entry in the same transaction. Undefined when there is none (not an API's update, a
 * run from before intents) or its entry was written already: exactly one side writes it.
 */
export async function takeActionIntent(trx: TenantTransaction, consultationId: string, updateId: string): Promise<{ action: string; context: AuditContext } | undefined> {
  const [row] = (await trx('consultation_action_intents')
    .where({ consultation_id: consultationId, update_id: updateId })
    .whereNull('logged_at')
    .update({ logged_at: trx.fn.now() })
    .returning(['action', 'context'])) as Array<{ action: string; context: AuditContext }>;
  return row;
}

/** Intents never answered (refused, or the update was never applied), older than `before`. */
export async function deleteStaleActionIntents(trx: TenantTransaction, before: Date): Promise<number> {
  return trx('consultation_action_intents').whereNull('logged_at').where('created_at', '<', before).delete();
}

export type SealedField = 'questionnaire' | 'note' | 'prescriptions' | 'cancelReason';

/** Stores sealed content for an action on its way to the workflow; the update carries the id. */
export async function storePayload(trx: TenantTransaction, consultationId: string, field: SealedField, sealed: Buffer): Promise<string> {
  const [row] = await trx('consultation_payloads').insert({ tenant_id: tenantIdOf(trx), consultation_id: consultationId, field, sealed }).returning('id');
  return (row as { id: string }).id;
}

/** The sealed content of these payloads (by id), for the activity that records the action. */
export async function payloadsOf(trx: TenantTransaction, consultationId: string, ids: string[]): Promise<Map<string, { field: SealedField; sealed: Buffer }>> {
  const rows = await trx('consultation_payloads').where({ consultation_id: consultationId }).whereIn('id', ids).select('id', 'field', 'sealed');
  return new Map(rows.map((r: { id: string; field: SealedField; sealed: Buffer }) => [r.id, { field: r.field, sealed: r.sealed }]));
}

export async function deletePayloads(trx: TenantTransaction, ids: string[]): Promise<void> {
  if (ids.length > 0) await trx('consultation_payloads').whereIn('id', ids).delete();
}

/** Payloads of actions that never completed (the API died between storing and deleting them). */
export async function pruneStalePayloads(trx: TenantTransaction, olderThan: Date): Promise<number> {
  return trx('consultation_payloads').where('created_at', '<', olderThan).delete();
}

/**
 * The consultation's workflow ended without ending the visit (terminated by an operator, failed,
 * timed out): the consultation is cancelled so its slot is free again, with a timeline entry that
 * says why. Returns false when it had already ended (nothing to release) or is gone.
 */
export async function releaseAbandoned(trx: TenantTransaction, id: string, why: { workflowStatus: string; runId: string }): Promise<boolean> {
  const released = await trx('consultations')
    .where({ id })
    .whereNotIn('status', ['completed', 'cancelled', 'no_show'])
    .update({ status: 'cancelled', updated_at: trx.fn.now() });
  if (released === 0) return false;
  await trx('consultation_events')
    .insert({ tenant_id: tenantIdOf(trx), consultation_id: id, event_key: `workflow-ended:${why.runId}`, type: 'workflow_ended', status: 'cancelled', details: JSON.stringify({ workflowStatus: why.workflowStatus }) })
    .onConflict(['consultation_id', 'event_key'])
    .ignore();
  return true;
}

/**
 * The workflows of the clinic's visits that have not ended, whatever their day (the purge ends
 * them: a visit checked in, seen or unpaid has no timer left and would wait for ever). From the
 * partial index of open visits.
 */
export async function openVisits(trx: TenantTransaction): Promise<Array<Pick<ConsultationRow, 'id' | 'workflowId'>>> {
  return trx('consultations')
    .where({ tenant_id: tenantIdOf(trx) })
    .whereRaw(OPEN_VISIT)
    .orderBy([{ column: 'starts_at' }, { column: 'id' }])
    .select('id', 'workflow_id');
}

/**
 * Visits not yet begun that start at or after `from` (the contract's end cancels them): reserved,
 * and also checked in or waiting in the online room — a check-in has no time window, so a visit
 * weeks ahead may be checked in; left out, these stayed live in a read-only clinic for good.
 */
export async function notBegunFrom(trx: TenantTransaction, from: Date): Promise<Array<Pick<ConsultationRow, 'id' | 'workflowId'>>> {
  return trx('consultations').whereIn('status', ['reserved', 'checked_in', 'waiting']).where('startsAt', '>=', from).orderBy('startsAt').select('id', 'workflowId');
}
