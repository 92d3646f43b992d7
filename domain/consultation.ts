import { japanDateOf, japanInstant } from './japan-time';

/**
 * The consultation lifecycle as a plain transition table, used by the workflow to accept or
 * refuse each action (and by nothing else: the workflow owns the state).
 *   reserved → (questionnaire) → checked_in | waiting (online) → in_consultation → finished → paid → completed
 *   with cancelled and no_show as the other endings.
 */
export const CONSULTATION_STATUSES = [
  'reserved', 'checked_in', 'waiting', 'in_consultation', 'finished', 'paid', 'completed', 'cancelled', 'no_show',
] as const;
export type ConsultationStatus = (typeof CONSULTATION_STATUSES)[number];
export type ConsultationMode = 'in_person' | 'online';
export type ConsultationAction = 'questionnaire' | 'checkIn' | 'join' | 'start' | 'finish' | 'payment' | 'cancel' | 'reschedule';

export const ENDED: readonly ConsultationStatus[] = ['completed', 'cancelled', 'no_show'];

/** How a refusal names each action (the problem's detail a front end may show). */
const ACTION_PHRASE: Record<ConsultationAction, string> = {
  questionnaire: 'submit a questionnaire for',
  checkIn: 'check in',
  join: 'join',
  start: 'start',
  finish: 'finish',
  payment: 'record a payment for',
  cancel: 'cancel',
  reschedule: 'reschedule',
};

/** The status after `action`, or a reason why the action is not allowed now. */
export function transition(status: ConsultationStatus, action: ConsultationAction, mode: ConsultationMode): ConsultationStatus | { refused: string } {
  const refuse = (why: string) => ({ refused: `cannot ${ACTION_PHRASE[action]} a consultation that is ${status.replace('_', ' ')}${why}` });
  switch (action) {
    case 'questionnaire':
      return ['reserved', 'checked_in', 'waiting'].includes(status) ? status : refuse('');
    case 'checkIn':
      if (mode !== 'in_person') return refuse(' (online consultations join instead)');
      return status === 'reserved' ? 'checked_in' : refuse('');
    case 'join':
      if (mode !== 'online') return refuse(' (in-person consultations check in)');
      return status === 'reserved' || status === 'waiting' || status === 'in_consultation' ? (status === 'reserved' ? 'waiting' : status) : refuse('');
    case 'start':
      return status === 'checked_in' || status === 'waiting' ? 'in_consultation' : refuse('');
    case 'finish':
      return status === 'in_consultation' ? 'finished' : refuse('');
    case 'payment':
      return status === 'finished' ? 'paid' : refuse('');
    case 'cancel':
      return ['reserved', 'checked_in', 'waiting'].includes(status) ? 'cancelled' : refuse('');
    case 'reschedule':
      return status === 'reserved' ? 'reserved' : refuse('');
  }
}

export const isRefusal = (r: ConsultationStatus | { refused: string }): r is { refused: string } => typeof r === 'object';

/**
 * The first moment a patient can be checked in for a visit that starts at `startsAt` (epoch ms):
 * 00:00 in Japan on the visit's day, or when its video room would open (`joinWindowBeforeSec`
 * before the start) if that is earlier — a visit just after midnight, or a walk-in booked into the
 * next day's first slot. A desk that checks in the wrong patient, or a visit days ahead, would start
 * a visit that is not happening and stop its reminders and its no-show.
 */
export function checkInOpensAt(startsAt: number, joinWindowBeforeSec: number): number {
  const dayStart = japanInstant(japanDateOf(new Date(startsAt))).getTime();
  return Math.min(dayStart, startsAt - joinWindowBeforeSec * 1000);
}
