import { ApplicationFailure } from '@temporalio/common';
import type { Db } from '../db/connection';
import { withTenant } from '../db/tenant-scope';
import type { Vault } from '../lib/crypto/vault';
import type { Mailer } from '../lib/mailer';
import { isMailRejected, sendEmailOnce } from './email';
import { consultationReminderMail } from './mail-templates/consultation-reminder';
import { paymentReminderMail } from './mail-templates/payment-reminder';
import type { ConsultationMode } from '../domain/consultation';
import { isUniqueViolation } from '../db/errors';
import { CONSULTATION_FAILURES } from '../workflows/consultation-messages';
import { deletePayloads, lockPractitionerSlots, overlapsBooking, payloadsOf, takeActionIntent, type SealedField } from '../db/consultations';
import { recordAudit } from '../db/audit';

/**
 * The consultation workflow's side effects. Each is idempotent: the timeline row is keyed by the
 * workflow's own event key, and is written in the same transaction as the change it records, so
 * a retried or replayed activity neither writes a second row nor applies a change twice.
 */
/**
 * Clinical content arrives already sealed by the API (base64), so it never appears in clear in
 * Temporal's history, which operators can read.
 */
export interface ConsultationPatch {
  startsAt?: string;
  endsAt?: string;
  questionnaire?: string;
  note?: string;
  prescriptions?: string;
  payment?: { amount: number; method: string };
  cancelReason?: string;
  /** Sealed content by reference: ids of consultation_payloads rows the API stored (see db/consultations.ts). */
  sealedRefs?: Partial<Record<SealedField, string>>;
}

/** The associated-data context each sealed consultation field is bound to. */
export const consultationFieldContext = (id: string, field: 'questionnaire' | 'note' | 'prescriptions' | 'cancelReason') => `consultations.${field}:${id}`;

export function createConsultationActivities(deps: { db: Db; vault: Vault; mailer: Mailer }) {
  return {
    async recordConsultation(args: { tenantId: string; consultationId: string; eventKey: string; type: string; status: string; patch: ConsultationPatch }): Promise<boolean> {
      const { tenantId, consultationId, patch } = args;
      try {
        return await withTenant(deps.db, tenantId, async (trx) => {
          const exists: { practitionerId: string } | undefined = await trx('consultations').where({ id: consultationId }).first('practitioner_id');
          if (!exists) throw ApplicationFailure.nonRetryable(`consultation ${consultationId} does not exist`, 'ConsultationMissing');
          const inserted = await trx('consultation_events')
            .insert({ tenant_id: tenantId, consultation_id: consultationId, event_key: args.eventKey, type: args.type, status: args.status, details: JSON.stringify(detailsOf(patch)) })
            .onConflict(['consultation_id', 'event_key'])
            .ignore()
            .returning('id');
          if (inserted.length === 0) {
            // Recorded before: a retry, or the same update handed out again after its workflow task
            // was lost (workflows/consultation.ts, eventKey). Its content has moved already (its
            // staging rows are gone: not an error). The row takes the workflow's status as of this
            // step again, as steps written since may have set another.
            await trx('consultations').where({ id: consultationId }).update({ status: args.status, updated_at: trx.fn.now() });
            return false;
          }

          if (patch.startsAt) {
            // A reschedule moves the booking only if the new time overlaps none of the doctor's
            // others, checked under their slots lock as a booking is (the unique index alone
            // refused the same start, not 09:05 beside 09:00).
            const to = { practitionerId: exists.practitionerId, startsAt: new Date(patch.startsAt), endsAt: new Date(patch.endsAt!), except: consultationId };
            await lockPractitionerSlots(trx, to.practitionerId);
            if (await overlapsBooking(trx, to)) throw ApplicationFailure.nonRetryable('the slot is already taken', 'SlotTaken');
          }
          const sealed = (b64: string) => Buffer.from(b64, 'base64');
          // Content stored by the API moves into the consultation; its staging rows go in the same transaction.
          const refs = Object.entries(patch.sealedRefs ?? {}).filter((e): e is [SealedField, string] => typeof e[1] === 'string');
          const moved: Partial<Record<SealedField, Buffer>> = {};
          // Most actions (check-in, start, payment) carry no content: no round trips for it.
          if (refs.length > 0) {
            const payloads = await payloadsOf(trx, consultationId, refs.map(([, id]) => id));
            for (const [field, id] of refs) {
              const payload = payloads.get(id);
              if (!payload || payload.field !== field) throw ApplicationFailure.nonRetryable(`sealed ${field} ${id} is missing`, CONSULTATION_FAILURES.sealedContentMissing);
              moved[field] = payload.sealed;
            }
            await deletePayloads(trx, refs.map(([, id]) => id));
          }
          await trx('consultations')
            .where({ id: consultationId })
            .update({
              status: args.status,
              updated_at: trx.fn.now(),
              ...(patch.startsAt ? { starts_at: patch.startsAt, ends_at: patch.endsAt } : {}),
              ...(patch.questionnaire ? { questionnaire_sealed: sealed(patch.questionnaire) } : {}),
              ...(patch.note ? { note_sealed: sealed(patch.note) } : {}),
              ...(patch.prescriptions ? { prescriptions_sealed: sealed(patch.prescriptions) } : {}),
              ...(patch.payment ? { payment_amount: patch.payment.amount, payment_method: patch.payment.method } : {}),
              ...(patch.cancelReason ? { cancel_reason_sealed: sealed(patch.cancelReason) } : {}),
              ...(moved.questionnaire ? { questionnaire_sealed: moved.questionnaire } : {}),
              ...(moved.note ? { note_sealed: moved.note } : {}),
              ...(moved.prescriptions ? { prescriptions_sealed: moved.prescriptions } : {}),
              ...(moved.cancelReason ? { cancel_reason_sealed: moved.cancelReason } : {}),
            });
          // The action is applied by this transaction: its operation-log entry, naming who asked
          // for it, is written here too, even if the API has stopped waiting for the answer. Last,
          // as everywhere: the entry holds the clinic's chain lock until commit (and after the
          // doctor's slots lock of a reschedule, in the order a booking takes them).
          const intent = args.eventKey.startsWith('update:') ? await takeActionIntent(trx, consultationId, args.eventKey.slice('update:'.length)) : undefined;
          if (intent) await recordAudit(trx, intent.context, { action: intent.action, outcome: 'success', targetType: 'consultation', targetId: consultationId });
          return true;
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw ApplicationFailure.nonRetryable('the slot is already taken', 'SlotTaken');
        throw err;
      }
    },

    /** Mails the patient (if they gave an address) once per consultation, kind and start time. */
    async sendConsultationReminder(args: { tenantId: string; consultationId: string; kind: string; startsAt: string }): Promise<'sent' | 'already' | 'no_address' | 'rejected'> {
      // Rows first, in a transaction that ends before decrypting: a cold key cache loads the
      // key through the same connection pool, so decrypting inside it could wait on itself.
      const found = await withTenant(deps.db, args.tenantId, async (trx) => {
        const c = await trx('consultations').where({ id: args.consultationId }).first();
        if (!c) return undefined;
        const p = await trx('patients').where({ id: c.patientId }).first('id', 'email_sealed');
        const tenant = await trx('tenants').where({ id: args.tenantId }).first('name');
        return { patient: p as { id: string; emailSealed: Buffer | null } | undefined, mode: c.mode as string, clinic: tenant?.name as string };
      });
      if (!found) throw ApplicationFailure.nonRetryable(`consultation ${args.consultationId} does not exist`, 'ConsultationMissing');
      const { patient } = found;
      const email = patient?.emailSealed ? await deps.vault.decryptText(args.tenantId, `patients.email:${patient.id}`, patient.emailSealed) : null;
      if (!email) return 'no_address';
      const content =
        args.kind === 'payment'
          ? paymentReminderMail({ clinicName: found.clinic })
          : consultationReminderMail({ clinicName: found.clinic, startsAt: new Date(args.startsAt), mode: found.mode as ConsultationMode });
      const result = await sendEmailOnce(deps, {
        tenantId: args.tenantId,
        idempotencyKey: `consultation/${args.consultationId}/${args.kind}/${args.startsAt}`,
        purpose: `consultation.reminder.${args.kind}`,
        mail: { to: email, ...content },
      }).catch((err: unknown) => {
        // A patient's bad address is recorded on the delivery row; the visit goes on without the reminder.
        if (isMailRejected(err)) return 'rejected' as const;
        throw err;
      });
      return result === 'rejected' ? result : result.sent ? 'sent' : 'already';
    },
  };
}

/** What the timeline shows: which fields changed, never their contents. */
function detailsOf(patch: ConsultationPatch): Record<string, unknown> {
  return {
    ...(patch.startsAt ? { startsAt: patch.startsAt, endsAt: patch.endsAt } : {}),
    ...(patch.payment ? { payment: patch.payment } : {}),
    fields: [
      ...Object.keys(patch).filter((k) => !['startsAt', 'endsAt', 'payment', 'sealedRefs'].includes(k)),
      ...Object.entries(patch.sealedRefs ?? {}).filter(([, id]) => id).map(([field]) => field),
    ],
  };
}
