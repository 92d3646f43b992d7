import { randomUUID } from 'node:crypto';
import { recordAudit } from '../../db/audit';
import { bookingLookups, findByIdempotencyKey, insertConsultation, overlapsBooking, type ConsultationRow } from '../../db/consultations';
import { isUniqueViolation } from '../../db/errors';
import { assertWithinHorizon } from '../../domain/booking-horizon';
import { assertOffered } from '../../domain/practitioner';
import { withTenant, type TenantTransaction } from '../../db/tenant-scope';
import type { ConsultationMode } from '../../domain/consultation';
import { refuseUnlessWritable } from '../../db/tenant-scope';
import { badRequest, conflict, notFound } from '../../domain/problems';
import { CONSULTATION_MODE, CONSULTATION_STATUS, PRACTITIONER_ID, SCHEDULED_START, TENANT_ID } from '../../temporal/search-attributes';
import { consultationWorkflowId } from '../../temporal/workflow-ids';
import type { ConsultationInput, ConsultationTiming } from '../../workflows/consultation';
import { commitThenDispatch } from '../commit-then-dispatch';
import { withRefusalsLogged } from '../audit/refusals';
import type { ClinicActor, Services } from '../deps';

export interface BookingRequest {
  patientId: string;
  practitionerId: string;
  startsAt: Date;
  mode: ConsultationMode;
  /** The client's key: a repeat of the same request answers with the first result. */
  idempotencyKey: string;
}

/**
 * Books a slot. The database gives the slot: bookings of one doctor are checked for overlap one
 * at a time under the doctor's lock, and a unique index backs the same start (409 slot_taken); the row, its log entry and the start of its workflow commit together, and the
 * workflow is started after commit, so the slot's row lock is never held while Temporal is called.
 */
export async function bookConsultation(
  deps: Pick<Services, 'db' | 'outbox' | 'log'> & { consultations: ConsultationTiming },
  actor: ClinicActor,
  req: BookingRequest,
  now: Date = new Date(),
): Promise<ConsultationRow> {
  // A refusal (409 slot_taken, 400 slot_in_past, …) is logged as denied, with what was asked for.
  const attempt = { action: 'consultation.book', details: { practitionerId: req.practitionerId, startsAt: req.startsAt.toISOString(), mode: req.mode } };
  return withRefusalsLogged(deps, actor.tenantId, actor.audit, attempt, () => book(deps, actor, req, now));
}

async function book(
  deps: Pick<Services, 'db' | 'outbox'> & { consultations: ConsultationTiming },
  actor: ClinicActor,
  req: BookingRequest,
  now: Date,
): Promise<ConsultationRow> {
  const { tenantId } = actor;
  try {
    return await commitThenDispatch(deps, tenantId, async (trx, enqueue) => {
      const { earlier, patientExists, practitioner, contract, horizonDays } = await bookingLookups(trx, req);
      if (earlier) return repeatedBooking(trx, actor, sameRequestOrRefuse(earlier, req), req);
      // Checked again under the clinic's state lock (in the lookups' statement instead of one of its
      // own: clinicCheck 'own'): authentication let this request in before the end, but the end
      // step may have listed the bookings to cancel since.
      refuseUnlessWritable(contract);
      if (!patientExists) throw notFound('No such patient.');
      if (!practitioner) throw notFound('No such practitioner.');
      const endsAt = assertOffered(practitioner, req.startsAt, req.mode);
      // The slot running now can still be booked (a walk-in); a finished one cannot.
      if (endsAt.getTime() <= now.getTime()) throw badRequest('slot_in_past', 'That slot is over.');
      assertWithinHorizon(req.startsAt, now, horizonDays);
      // Under the doctor's slots lock (taken by the lookups): not only the same start, any overlap.
      if (await overlapsBooking(trx, { practitionerId: req.practitionerId, startsAt: req.startsAt, endsAt })) {
        // The lookups read before the lock was theirs: a request with this key may have booked while they waited.
        const raced = await findByIdempotencyKey(trx, req.idempotencyKey);
        if (raced) return repeatedBooking(trx, actor, sameRequestOrRefuse(raced, req), req);
        throw slotTaken();
      }
      const id = randomUUID();
      const workflowId = consultationWorkflowId(id);
      const row = await insertConsultation(trx, {
        id, tenantId, patientId: req.patientId, practitionerId: req.practitionerId, startsAt: req.startsAt, endsAt,
        mode: req.mode, workflowId, idempotencyKey: req.idempotencyKey, createdBy: actor.accountId,
      });
      const input: ConsultationInput = { tenantId, consultationId: id, mode: req.mode, startsAt: req.startsAt.toISOString(), endsAt: endsAt.toISOString(), timing: deps.consultations };
      await enqueue({
        kind: 'start',
        workflowId,
        workflowType: 'consultationWorkflow',
        args: [input],
        searchAttributes: {
          [TENANT_ID.name]: tenantId,
          [CONSULTATION_STATUS.name]: 'reserved',
          [PRACTITIONER_ID.name]: req.practitionerId,
          [SCHEDULED_START.name]: req.startsAt.toISOString(),
          [CONSULTATION_MODE.name]: req.mode,
        },
      });
      // Last: the log entry takes the clinic's chain lock until commit, so it is held for one statement.
      await recordAudit(trx, actor.audit, {
        action: 'consultation.book', outcome: 'success', targetType: 'consultation', targetId: id,
        details: { practitionerId: req.practitionerId, startsAt: req.startsAt.toISOString(), mode: req.mode },
      });
      return row;
    }, { clinicCheck: 'own' });
  } catch (err) {
    if (isUniqueViolation(err, 'consultations_idempotency_key')) {
      // The same request raced itself: answer with the winner's result.
      return withTenant(deps.db, tenantId, async (trx) => repeatedBooking(trx, actor, sameRequestOrRefuse((await findByIdempotencyKey(trx, req.idempotencyKey))!, req), req));
    }
    if (isUniqueViolation(err)) throw slotTaken();
    throw err;
  }
}

const slotTaken = () => conflict('slot_taken', 'That slot is already booked, or overlaps a booking of this doctor.');

/** A repeat answers the first booking, and is logged as one (the first request's entry says what was done). */
async function repeatedBooking(trx: TenantTransaction, actor: ClinicActor, booked: ConsultationRow, req: BookingRequest): Promise<ConsultationRow> {
  await recordAudit(trx, actor.audit, {
    action: 'consultation.book', outcome: 'success', targetType: 'consultation', targetId: booked.id,
    details: { practitionerId: req.practitionerId, startsAt: req.startsAt.toISOString(), mode: req.mode, repeated: true },
  });
  return booked;
}

/**
 * A key reused for a different booking is the client's mistake, never silently the first booking.
 * The start is compared with the one first asked for (a later reschedule moves the booking, and
 * the key still names it); a booking made before that was kept is not compared on its start.
 */
function sameRequestOrRefuse(earlier: ConsultationRow, req: BookingRequest): ConsultationRow {
  const same =
    earlier.patientId === req.patientId &&
    earlier.practitionerId === req.practitionerId &&
    earlier.mode === req.mode &&
    (earlier.bookedStartsAt === null || earlier.bookedStartsAt.getTime() === req.startsAt.getTime());
  if (!same) throw conflict('idempotency_key_reused', 'This Idempotency-Key was used for a different booking.');
  return earlier;
}
