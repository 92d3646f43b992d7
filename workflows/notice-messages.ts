import { defineQuery, defineSignal } from '@temporalio/workflow';

/**
 * Messages of the notice workflows (incidents, change notices), shared by the API (which sends
 * them through the workflow outbox) and the workflows. Signals carry no content: a notice's
 * texts and targets live in PostgreSQL, and a signal only says "look again".
 */
export const noticeChangedSignal = defineSignal('noticeChanged');

export interface NoticeProgress {
  /** `fanning_out` while mails are being sent, `waiting` for the next message or moment, `ended`. */
  phase: 'fanning_out' | 'waiting' | 'ended';
  /** Messages of the notice mailed to every target so far, and targets covered. */
  messagesSent: number;
  clinicsCovered: number;
  /** Fan-out rounds so far and the current round's batches (children) done out of planned. */
  rounds: number;
  batchesDone: number;
  batchesPlanned: number;
  /** Mails sent and permanently failed, counted from the children's results (this run). */
  sent: number;
  failed: number;
  /** Change notices: the next reminder's moment (ISO 8601), if one is still to come. */
  nextReminderAt?: string | null;
}

export const noticeProgressQuery = defineQuery<NoticeProgress>('progress');

/** Clinics per child workflow, and children running at once. */
export const CLINICS_PER_BATCH = 100;
export const PARALLEL_BATCHES = 4;
/** A run continues as new past this many history events (between rounds). */
export const MAX_EVENTS_PER_RUN = 2_000;
