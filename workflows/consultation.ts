import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  currentUpdateInfo,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { isUuid } from '../domain/ids';
import { ENDED, checkInOpensAt, isRefusal, transition, type ConsultationAction, type ConsultationMode, type ConsultationStatus } from '../domain/consultation';
import { CONSULTATION_STATUS, SCHEDULED_START } from '../temporal/search-attributes';
import {
  CONSULTATION_FAILURES,
  MAX_UPDATE_ARGS_BYTES,
  cancelUpdate,
  checkInUpdate,
  finishUpdate,
  joinUpdate,
  paymentUpdate,
  questionnaireUpdate,
  rescheduleUpdate,
  startUpdate,
  statusQuery,
  type UpdateResult,
} from './consultation-messages';

/**
 * One consultation, from booking to its end. Actions from the API are updates: the workflow
 * accepts or refuses each synchronously (409 invalid_transition), records the change through an
 * idempotent activity, and only then answers. Timers (reminders, no-show, payment reminder) are
 * recomputed whenever the state changes, so a reschedule moves them.
 */
export interface ConsultationTiming {
  reminderOffsetsSec: number[];
  joinWindowBeforeSec: number;
  noShowAfterSec: number;
  paymentReminderAfterSec: number;
}

export interface ConsultationInput {
  tenantId: string;
  consultationId: string;
  mode: ConsultationMode;
  startsAt: string;
  endsAt: string;
  timing: ConsultationTiming;
}

export type { UpdateResult };

const retry = { initialInterval: '500 ms', maximumInterval: '10 seconds', nonRetryableErrorTypes: [CONSULTATION_FAILURES.slotTaken, CONSULTATION_FAILURES.consultationMissing] };
// Bounded: about an hour of a database outage before a state change gives up.
const activities = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: { ...retry, maximumInterval: '1 minute', maximumAttempts: 60 } });
// A mail call that hangs (or a worker that died mid-call) is retried elsewhere after 10 s.
/**
 * The same step as a local activity, for executions started between patches 'record-locally' and
 * 'record-after-acceptance' only (see `record`): it ran inside the workflow task that handled the
 * update, one round trip instead of three, but its write did not wait for the update's acceptance.
 */
const local = proxyLocalActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: { ...retry, maximumInterval: '1 minute', maximumAttempts: 60 } });
const mail = proxyActivities<Activities>({ startToCloseTimeout: '10 seconds', retry: { ...retry, maximumAttempts: 20 } });

/** The consultation's row was deleted under the workflow: nothing is left to run for. */
const isMissing = (err: unknown) =>
  err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === CONSULTATION_FAILURES.consultationMissing;

export interface ConsultationResult {
  status: ConsultationStatus;
  /** `consultation_missing`: the row disappeared, so the workflow ended instead of retrying forever. */
  outcome: 'ended' | 'consultation_missing';
}

const JOIN_GRACE_MS = 30 * 60_000;

export async function consultationWorkflow(input: ConsultationInput): Promise<ConsultationResult> {
  let status: ConsultationStatus = 'reserved';
  let startsAt = Date.parse(input.startsAt);
  let endsAt = Date.parse(input.endsAt);
  /** When the visit was booked: the run began with the booking's commit (its start is sent right after). */
  const bookedAt = workflowInfo().startTime.getTime();
  let finishedAt: number | null = null;
  let changes = 0;
  let events = 0;
  let busy = false;
  let missing = false;
  const done = new Set<string>();
  const now = (): ConsultationStatus => status;
  /**
   * One action at a time. Several waiters can wake in the same activation, so each checks
   * again after waking: only one of them takes the lock, the others wait for the next release.
   */
  const lock = async () => {
    while (busy) await condition(() => !busy);
    busy = true;
  };

  const iso = (ms: number) => new Date(ms).toISOString();
  const result = (): UpdateResult => ({ status, startsAt: iso(startsAt), endsAt: iso(endsAt) });
  const refuseUnless = (action: ConsultationAction) => {
    const next = transition(status, action, input.mode);
    if (isRefusal(next)) throw ApplicationFailure.create({ type: CONSULTATION_FAILURES.invalidTransition, message: next.refused, nonRetryable: true });
    return next;
  };
  const joinWindow = () => ({ notBefore: startsAt - input.timing.joinWindowBeforeSec * 1000, expiresAt: endsAt + JOIN_GRACE_MS });
  /** Joining outside the video room's window is refused. */
  const refuseOutsideJoinWindow = () => {
    const w = joinWindow();
    if (Date.now() < w.notBefore || Date.now() > w.expiresAt) {
      throw ApplicationFailure.create({ type: CONSULTATION_FAILURES.outsideJoinWindow, message: `the room opens at ${iso(w.notBefore)} and closes at ${iso(w.expiresAt)}`, nonRetryable: true });
    }
  };
  /** A check-in before the visit's day in Japan (or its video room's opening) is refused. */
  const refuseBeforeVisitDay = () => {
    const opens = checkInOpensAt(startsAt, input.timing.joinWindowBeforeSec);
    if (Date.now() < opens) {
      throw ApplicationFailure.create({ type: CONSULTATION_FAILURES.beforeVisitDay, message: `it opens at ${iso(opens)}, on the visit's day in Japan`, nonRetryable: true });
    }
  };
  /** Activities through here: a deleted row ends the workflow with an outcome instead of failing it. */
  const record = async (args: Parameters<Activities['recordConsultation']>[0]) => {
    try {
      // A regular activity runs only once the workflow task that accepted the update is in the
      // history. A local one wrote to PostgreSQL from inside that task, and when the task was
      // dropped under load (a speculative update task leaves no trace) the write stayed for an
      // update the workflow then refused: refused clinical content over accepted content, steps in
      // the timeline after a cancel. Executions recorded locally before keep doing so.
      if (!patched('record-after-acceptance') && patched('record-locally')) await local.recordConsultation(args);
      else await activities.recordConsultation(args);
    } catch (err) {
      if (!isMissing(err)) throw err;
      missing = true;
      throw ApplicationFailure.create({ type: CONSULTATION_FAILURES.consultationMissing, message: 'this consultation no longer exists', nonRetryable: true });
    }
  };
  const remind = async (args: Parameters<Activities['sendConsultationReminder']>[0]) => {
    try {
      await mail.sendConsultationReminder(args);
    } catch (err) {
      // A reminder that could not go out is logged, never the end of the visit.
      if (isMissing(err)) missing = true;
      else log.warn('reminder not sent', { consultationId: input.consultationId, kind: args.kind, error: (err as Error).message });
    }
  };
  /**
   * The key the step is recorded under (consultation_events.event_key; the activity records each
   * key once, so a retried step writes nothing twice). Where the step ran as a local activity
   * inside the workflow task (see `record`) and that task was lost, the server handed the same
   * updates out again, perhaps in another order among new ones: a counter of steps gave a step
   * already written another key, and it was written twice (its staged content already gone: a
   * false 409 content_missing). The update's own id, and the moment of a timer's step, stay the
   * same whatever the order. Runs before this change keep the counter.
   */
  const eventKey = (action: string, stable: () => string): string => {
    events += 1;
    return patched('stable-event-keys') ? stable() : `${events}:${action}`;
  };

  /** Runs one action at a time: the state is checked again once it is this action's turn. */
  async function act(
    action: ConsultationAction,
    apply: (next: ConsultationStatus) => Promise<Record<string, unknown> | void>,
    after?: () => void,
  ): Promise<UpdateResult> {
    await lock();
    try {
      const next = refuseUnless(action);
      // Again once it is this action's turn: a reschedule that held the lock may have moved the
      // visit to next week after the validator passed the check-in (an attack run raced one
      // through, then started and finished it). Histories from before this check replay without it.
      if (action === 'checkIn' && patched('check-in-day-when-applied')) refuseBeforeVisitDay();
      // The same for joining the video room (the re-attack raced a join past a reschedule to next
      // week, then started and finished the visit).
      if (action === 'join' && patched('join-window-when-applied')) refuseOutsideJoinWindow();
      const patch = (await apply(next)) ?? {};
      const key = eventKey(action, () => `update:${currentUpdateInfo()!.id}`);
      await record({ tenantId: input.tenantId, consultationId: input.consultationId, eventKey: key, type: action, status: next, patch });
      after?.();
      if (next !== status) {
        status = next;
        upsertSearchAttributes([{ key: CONSULTATION_STATUS, value: status }]);
      }
      if (next === 'finished') finishedAt = Date.now();
      changes += 1;
      return result();
    } finally {
      busy = false;
    }
  }

  /**
   * Runs before an update is accepted into history: arguments of the wrong shape or size are
   * refused (nothing is recorded), then the transition itself is checked.
   */
  const validate =
    (action: ConsultationAction, refs: string[] = []) =>
    (...args: unknown[]) => {
      const arg = (args[0] ?? {}) as Record<string, unknown>;
      const tooLarge = JSON.stringify(args).length > MAX_UPDATE_ARGS_BYTES;
      const badRef = refs.some((k) => arg[k] !== undefined && (typeof arg[k] !== 'string' || !isUuid(arg[k] as string)));
      const inline = Object.keys(arg).some((k) => k.endsWith('Sealed'));
      if (tooLarge || badRef || inline) {
        throw ApplicationFailure.create({ type: CONSULTATION_FAILURES.invalidArguments, message: `invalid arguments for ${action}`, nonRetryable: true });
      }
      refuseUnless(action);
      // Before acceptance, so a check-in days ahead leaves nothing in the history (validators do
      // not run on replay). `act` checks again when it applies the check-in.
      if (action === 'checkIn') refuseBeforeVisitDay();
    };
  setHandler(statusQuery, () => ({ status, startsAt: iso(startsAt), endsAt: iso(endsAt) }));
  setHandler(
    questionnaireUpdate,
    ({ answersRef, answersSealed }) => act('questionnaire', async () => (answersRef ? { sealedRefs: { questionnaire: answersRef } } : { questionnaire: answersSealed })),
    { validator: validate('questionnaire', ['answersRef']) },
  );
  setHandler(checkInUpdate, () => act('checkIn', async () => undefined), { validator: validate('checkIn') });
  setHandler(
    joinUpdate,
    async () => {
      refuseOutsideJoinWindow();
      const r = status === 'reserved' ? await act('join', async () => undefined) : (refuseUnless('join'), result());
      // The window as it stands once the join was applied (a reschedule may have waited ahead of it).
      const w = joinWindow();
      return { ...r, joinWindow: { notBefore: iso(w.notBefore), expiresAt: iso(w.expiresAt) } };
    },
    { validator: validate('join') },
  );
  setHandler(startUpdate, () => act('start', async () => undefined), { validator: validate('start') });
  setHandler(
    finishUpdate,
    ({ noteRef, prescriptionsRef, noteSealed, prescriptionsSealed }) =>
      act('finish', async () =>
        noteRef || prescriptionsRef ? { sealedRefs: { note: noteRef, prescriptions: prescriptionsRef } } : { note: noteSealed, prescriptions: prescriptionsSealed },
      ),
    { validator: validate('finish', ['noteRef', 'prescriptionsRef']) },
  );
  setHandler(paymentUpdate, ({ amount, method }) => act('payment', async () => ({ payment: { amount, method } })), { validator: validate('payment') });
  setHandler(
    cancelUpdate,
    ({ reasonRef, reasonSealed }) => act('cancel', async () => (reasonRef ? { sealedRefs: { cancelReason: reasonRef } } : { cancelReason: reasonSealed })),
    { validator: validate('cancel', ['reasonRef']) },
  );
  setHandler(
    rescheduleUpdate,
    (to) =>
      // The database decides who gets the slot; on a clash the activity fails and nothing moves.
      act('reschedule', async () => ({ startsAt: to.startsAt, endsAt: to.endsAt }), () => {
        startsAt = Date.parse(to.startsAt);
        endsAt = Date.parse(to.endsAt);
        upsertSearchAttributes([{ key: SCHEDULED_START, value: new Date(startsAt) }]);
      }),
    { validator: validate('reschedule') },
  );

  // Timers: whichever is due next, re-planned after every change.
  const over = () => missing || ENDED.includes(now());
  while (!over()) {
    const due: Array<{ at: number; key: string; run: () => Promise<void> }> = [];
    if (now() === 'reserved') {
      if (startsAt > Date.now()) {
        const pending = input.timing.reminderOffsetsSec
          .map((offset) => ({ offset, at: startsAt - offset * 1000, key: `reminder:${offset}:${iso(startsAt)}` }))
          .filter((r) => !done.has(r.key));
        // Booked (or moved) late: of the reminders already due only the latest is sent, at once.
        const overdue = pending.filter((r) => r.at < Date.now()).sort((a, b) => b.at - a.at);
        for (const r of overdue.slice(1)) done.add(r.key);
        for (const r of pending.filter((p) => !done.has(p.key))) {
          const kind = `before-${r.offset}s`;
          const at = iso(startsAt);
          due.push({ at: Math.max(r.at, Date.now()), key: r.key, run: () => remind({ tenantId: input.tenantId, consultationId: input.consultationId, kind, startsAt: at }) });
        }
      }
      due.push({
        // From the start, or from the booking when it was booked later than that (a walk-in into
        // the running slot): counted from the start alone, a walk-in booked more than
        // noShowAfterSec into its slot became a no-show at once and could never be seen.
        at: (patched('no-show-after-booking') ? Math.max(startsAt, bookedAt) : startsAt) + input.timing.noShowAfterSec * 1000,
        key: `no-show:${iso(startsAt)}`,
        run: async () => {
          if (now() !== 'reserved') return;
          await lock();
          try {
            if (now() !== 'reserved') return;
            const key = eventKey('no_show', () => `no_show:${iso(startsAt)}`);
            await record({ tenantId: input.tenantId, consultationId: input.consultationId, eventKey: key, type: 'no_show', status: 'no_show', patch: {} });
            status = 'no_show';
            upsertSearchAttributes([{ key: CONSULTATION_STATUS, value: status }]);
          } finally {
            busy = false;
          }
        },
      });
    }
    if (now() === 'finished' && finishedAt !== null && !done.has('payment-reminder')) {
      due.push({
        at: finishedAt + input.timing.paymentReminderAfterSec * 1000,
        key: 'payment-reminder',
        run: () => remind({ tenantId: input.tenantId, consultationId: input.consultationId, kind: 'payment', startsAt: iso(startsAt) }),
      });
    }
    if (now() === 'paid') {
      // Nothing left to collect: the visit is closed.
      await lock();
      try {
        const key = eventKey('complete', () => 'complete');
        await record({ tenantId: input.tenantId, consultationId: input.consultationId, eventKey: key, type: 'complete', status: 'completed', patch: {} });
        status = 'completed';
        upsertSearchAttributes([{ key: CONSULTATION_STATUS, value: status }]);
      } catch (err) {
        if (!missing) throw err;
      } finally {
        busy = false;
      }
      continue;
    }
    due.sort((a, b) => a.at - b.at);
    const next = due[0];
    const seen = changes;
    const changed = await condition(() => changes !== seen || over(), next ? Math.max(0, next.at - Date.now()) : undefined);
    if (!changed && next) {
      try {
        await next.run();
      } catch (err) {
        if (!missing) throw err;
      }
      done.add(next.key);
    }
  }
  await condition(allHandlersFinished);
  return { status, outcome: missing ? 'consultation_missing' : 'ended' };
}
