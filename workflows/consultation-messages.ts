import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { ConsultationStatus } from '../domain/consultation';

/**
 * The consultation workflow's messages, shared by the API (which sends them) and the workflow
 * (which handles them), so a name or an argument shape cannot drift between the two.
 * Sealed fields are base64 ciphertext made by the API: clinical content never enters history in clear.
 */
export interface UpdateResult {
  status: ConsultationStatus;
  startsAt: string;
  endsAt: string;
  /** For `join`: when the patient/doctor may be in the room. */
  joinWindow?: { notBefore: string; expiresAt: string };
}

export const statusQuery = defineQuery<{ status: ConsultationStatus; startsAt: string; endsAt: string }>('status');
/**
 * Clinical content travels by reference: `…Ref` is the id of a sealed payload the API stored in
 * PostgreSQL (consultation_payloads). The `…Sealed` forms (base64 ciphertext) are what updates
 * carried before; they stay in the types only so that histories recorded then still replay.
 */
export const questionnaireUpdate = defineUpdate<UpdateResult, [{ answersRef?: string; answersSealed?: string }]>('questionnaire');
export const checkInUpdate = defineUpdate<UpdateResult, []>('checkIn');
export const joinUpdate = defineUpdate<UpdateResult, []>('join');
export const startUpdate = defineUpdate<UpdateResult, []>('start');
export const finishUpdate = defineUpdate<UpdateResult, [{ noteRef?: string; prescriptionsRef?: string; noteSealed?: string; prescriptionsSealed?: string }]>('finish');
export const paymentUpdate = defineUpdate<UpdateResult, [{ amount: number; method: string }]>('payment');
export const cancelUpdate = defineUpdate<UpdateResult, [{ reasonRef?: string; reasonSealed?: string }]>('cancel');
export const rescheduleUpdate = defineUpdate<UpdateResult, [{ startsAt: string; endsAt: string }]>('reschedule');

/** Failure types the workflow raises to refuse an update (mapped to problem codes in application/workflow-failures.ts). */
export const CONSULTATION_FAILURES = {
  invalidTransition: 'InvalidTransition',
  slotTaken: 'SlotTaken',
  outsideJoinWindow: 'OutsideJoinWindow',
  /** A check-in before the visit's day in Japan (domain/consultation.ts checkInOpensAt). */
  beforeVisitDay: 'BeforeVisitDay',
  consultationMissing: 'ConsultationMissing',
  /** The update's arguments are not what the API sends (shape, references, size): refused before history. */
  invalidArguments: 'InvalidArguments',
  /** The sealed content an update refers to is gone (removed as stale before the action ran). */
  sealedContentMissing: 'SealedContentMissing',
} as const;

/** No update argument may be larger than this (as JSON): content goes to PostgreSQL, ids come here. */
export const MAX_UPDATE_ARGS_BYTES = 64 * 1024;
