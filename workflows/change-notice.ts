import { condition, patched, setHandler } from '@temporalio/workflow';
import { reminderMoments } from '../domain/change-notice-timing';
import { changeNoticeWorkflowId } from '../temporal/workflow-ids';
import { fanOut, platform } from './notice-fanout';
import { noticeChangedSignal, noticeProgressQuery, type NoticeProgress } from './notice-messages';


export interface ChangeNoticeInput {
  changeNoticeId: string;
  mailTaskQueue: string;
  /** ISO 8601: when the change takes effect. */
  effectiveAt: string;
  /** Reminders this many seconds before effectiveAt (from CHANGE_NOTICE_LEAD_SECONDS when declared). */
  leadTimesSec: number[];
}

export interface ChangeNoticeResult {
  changeNoticeId: string;
  outcome: 'effective' | 'cancelled' | 'notice_missing';
  reminders: number;
  sent: number;
  failed: number;
}

/**
 * An advance change notice (`change-notice/<id>`): mails the targets at once, again at each lead
 * time before the change (timers; lead times already past when the first notice has gone out are skipped), and ends
 * when the change takes effect. A cancellation (the API's DELETE records it and signals
 * `noticeChanged`) stops the timers and mails the cancellation to every address that had been
 * told something.
 */
export async function changeNoticeWorkflow(input: ChangeNoticeInput): Promise<ChangeNoticeResult> {
  const effectiveAt = Date.parse(input.effectiveAt);
  let wakeups = 0;
  let checked = 0;
  let round = 0;
  let reminders = 0;
  const progress: NoticeProgress = { phase: 'fanning_out', messagesSent: 0, clinicsCovered: 0, rounds: 0, batchesDone: 0, batchesPlanned: 0, sent: 0, failed: 0, nextReminderAt: null };
  setHandler(noticeChangedSignal, () => void (wakeups += 1));
  setHandler(noticeProgressQuery, () => progress);
  const result = (outcome: ChangeNoticeResult['outcome']): ChangeNoticeResult => {
    progress.phase = 'ended';
    return { changeNoticeId: input.changeNoticeId, outcome, reminders, sent: progress.sent, failed: progress.failed };
  };
  const send = async (messageIds: string[], upToSeq: number, onlyTold = false) => {
    round += 1;
    progress.rounds = round;
    progress.phase = 'fanning_out';
    await fanOut({ noticeId: input.changeNoticeId, parentId: changeNoticeWorkflowId(input.changeNoticeId), mailTaskQueue: input.mailTaskQueue, round, messageIds, range: { afterSeq: 0, upToSeq }, onlyTold }, progress);
    progress.messagesSent += messageIds.length;
    progress.phase = 'waiting';
  };

  let moments = reminderMoments(effectiveAt, input.leadTimesSec, Date.now());
  let plan = await platform.loadNoticePlan({ noticeId: input.changeNoticeId });
  if (!plan) return result('notice_missing');
  const targets = plan.maxTargetSeq;
  // Covered once the first message has gone to them (as an incident counts), not before.
  const targetCount = plan.targetCount ?? 0;
  const cancelledNow = async () => {
    checked = wakeups;
    plan = await platform.loadNoticePlan({ noticeId: input.changeNoticeId });
    return !plan || plan.status === 'cancelled';
  };
  /** Sleeps until `at` (a timer), waking for signals; 'cancelled' as soon as the notice is. */
  const waitUntil = async (at: number): Promise<'due' | 'cancelled'> => {
    for (;;) {
      if (wakeups !== checked && (await cancelledNow())) return 'cancelled';
      const left = at - Date.now();
      if (left <= 0) return 'due';
      // Woken by what arrived since the last reload, even during it (a cancel committed just after
      // the reload read the notice would otherwise wait for the next reminder or the change's
      // moment, days later). Runs begun before wait as they did.
      const seen = patched('change-notice-wake-during-reload') ? checked : wakeups;
      if (!(await condition(() => wakeups !== seen, left))) return 'due';
    }
  };

  let outcome: 'due' | 'cancelled' = plan.status === 'cancelled' ? 'cancelled' : 'due';
  if (outcome === 'due') {
    await send([plan.messageIds[0]!], targets);
    progress.clinicsCovered = targetCount;
    // A lead time that passed while the first notice went out (minutes for thousands of addresses
    // at the mail rate) is covered by it, as one already past at the start is: not mailed again
    // straight after it. Runs begun before keep the moments they computed at their start.
    if (patched('reminders-after-first-notice')) moments = reminderMoments(effectiveAt, input.leadTimesSec, Date.now());
  }
  for (const at of moments) {
    if (outcome === 'cancelled') break;
    progress.nextReminderAt = new Date(at).toISOString();
    outcome = await waitUntil(at);
    if (outcome === 'cancelled') break;
    const messageId = await platform.addChangeNoticeReminder({ noticeId: input.changeNoticeId, at });
    // Null: cancelled in the meantime (the activity checks under the notice's lock).
    if (!messageId) {
      outcome = (await cancelledNow()) ? 'cancelled' : 'due';
      break;
    }
    reminders += 1;
    await send([messageId], targets);
  }
  progress.nextReminderAt = null;
  if (outcome === 'due') outcome = await waitUntil(effectiveAt);
  if (outcome === 'cancelled') {
    if (plan && (await cancelledNow()) && plan.cancellationMessageId) await send([plan.cancellationMessageId], targets, true);
    return result(plan ? 'cancelled' : 'notice_missing');
  }
  // Past effectiveAt nothing can be cancelled any more.
  const state = await platform.markChangeNoticeEffective({ noticeId: input.changeNoticeId });
  if (state === 'cancelled') {
    await cancelledNow();
    if (plan?.cancellationMessageId) await send([plan.cancellationMessageId], targets, true);
    return result('cancelled');
  }
  return result('effective');
}
