import { randomBytes, randomUUID } from 'node:crypto';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Activities } from '../../activities';
import type { ConsultationTiming, consultationWorkflow } from '../../workflows/consultation';
import type { accountOnboardingWorkflow } from '../../workflows/account-onboarding';
import { japanDateOf, japanInstant } from '../../domain/japan-time';
import { eventually } from '../harness/clinic';
import { workflowBundle } from '../harness/stack';
import { eventsOf, expectSetFor, recordHistory, timersIn, type HistoryEvent, type Timer } from '../harness/history';

/**
 * The consultation and onboarding timers, with the workflows' activities replaced by recording
 * stubs (the one place this project mocks anything: a workflow's own tests).
 *
 * The project's rule is TestWorkflowEnvironment.createTimeSkipping(), but its Java test server is
 * only distributed as a download from GitHub, which this project's machines cannot reach (see
 * the report of the "Commit first, then start" work). So these run on the shared dev server:
 * - a timer is checked by the moment it was set for, read from the history: a TimerStarted's
 *   startToFireTimeout is exact, and the workflow's clock is the time of the workflow task that
 *   set it, so a 23-hour timer is checked without waiting for it;
 * - timers that must fire (to see what follows) get second-scale timings through the
 *   workflows' own inputs (ConsultationTiming, initialPasswordExpiresAt).
 */
const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Sealed content travels by reference (a consultation_payloads id); the stubbed activity never reads it. */
const STAGED = randomUUID();

interface Call {
  name: string;
  args: Record<string, unknown>;
  at: number;
}
const calls: Call[] = [];
const callsFor = (id: string) => calls.filter((c) => c.args.consultationId === id || c.args.accountId === id);

/**
 * Recording stubs. An account id containing "raced" finds its login came first (expiry refused);
 * one containing "late-clock" finds the password not yet expired on the database's clock the
 * first time it is asked.
 */
/** Steps held until the test lets them go: consultation id → the gate its next recorded step waits at. */
const held = new Map<string, { reached: () => void; release: Promise<void> }>();

const stubs: Pick<Activities, 'recordConsultation' | 'sendConsultationReminder' | 'expireInitialPassword' | 'checkInitialPasswordExpiry'> = {
  async recordConsultation(args) {
    const gate = held.get(args.consultationId);
    if (gate) {
      held.delete(args.consultationId);
      gate.reached();
      await gate.release;
    }
    calls.push({ name: 'recordConsultation', args, at: Date.now() });
    return true;
  },
  async sendConsultationReminder(args) {
    calls.push({ name: 'sendConsultationReminder', args, at: Date.now() });
    return 'sent';
  },
  async expireInitialPassword(args) {
    calls.push({ name: 'expireInitialPassword', args, at: Date.now() });
    return !args.accountId.includes('raced');
  },
  async checkInitialPasswordExpiry(args) {
    calls.push({ name: 'expireInitialPassword', args, at: Date.now() });
    if (args.accountId.includes('raced')) return 'moved_on';
    if (args.accountId.includes('late-clock') && callsFor(args.accountId).length === 1) return 'not_due';
    return 'expired';
  },
};

let client: Client;
let connection: Connection;
let nativeConnection: NativeConnection;
let worker: Worker;
let running: Promise<void>;
const taskQueue = `timers-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  const address = process.env.TEST_TEMPORAL_ADDRESS!;
  nativeConnection = await NativeConnection.connect({ address });
  worker = await Worker.create({ connection: nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: stubs });
  running = worker.run();
  connection = await Connection.connect({ address });
  client = new Client({ connection });
});
afterAll(async () => {
  worker?.shutdown();
  await running;
  await connection?.close();
  await nativeConnection?.close();
});

// ---- reading the history ----------------------------------------------------------------------

/** Activities the workflow scheduled, in order, with the (decoded) argument and when. */
function activitiesIn(events: HistoryEvent[]): Array<{ name: string; arg: Record<string, unknown>; at: number }> {
  return events
    .filter((e) => e.activityTaskScheduledEventAttributes)
    .map((e) => {
      const a = e.activityTaskScheduledEventAttributes!;
      const payload = a.input?.payloads?.[0];
      return { name: a.activityType!.name!, arg: payload?.data ? JSON.parse(Buffer.from(payload.data).toString('utf8')) : {}, at: tsToMs(e.eventTime) };
    });
}

/** Waits until the history shows `count` timers started (a condition of the workflow's own state). */
async function timersOnceStarted(handle: WorkflowHandle, count: number): Promise<Timer[]> {
  let timers: Timer[] = [];
  await eventually(`${count} timer(s) started`, async () => (timers = timersIn(await eventsOf(handle))).length >= count);
  return timers;
}


// ---- the consultation -------------------------------------------------------------------------

const TIMING: ConsultationTiming = { reminderOffsetsSec: [86_400, 3_600], joinWindowBeforeSec: 600, noShowAfterSec: 900, paymentReminderAfterSec: 86_400 };
/** A whole second, so that ISO strings round-trip exactly. */
const wholeSecond = (ms: number) => Math.ceil(ms / SECOND) * SECOND;

async function startConsultation(startsAt: number, timing: Partial<ConsultationTiming> = {}, mode: 'in_person' | 'online' = 'in_person') {
  const consultationId = randomUUID();
  const handle = await client.workflow.start<typeof consultationWorkflow>('consultationWorkflow', {
    workflowId: `consultation/${consultationId}`,
    taskQueue,
    args: [{ tenantId: randomUUID(), consultationId, mode, startsAt: new Date(startsAt).toISOString(), endsAt: new Date(startsAt + 5 * MINUTE).toISOString(), timing: { ...TIMING, ...timing } }],
  });
  return { consultationId, handle };
}
const update = (handle: WorkflowHandle, name: string, arg?: unknown) => (arg === undefined ? handle.executeUpdate(name) : handle.executeUpdate(name, { args: [arg] }));
const reminders = (id: string) => callsFor(id).filter((c) => c.name === 'sendConsultationReminder').map((c) => c.args.kind);

describe('consultation timers', () => {
  it('sets the 24-hour reminder for 24 h before the start, then the 1-hour one for 1 h before', async () => {
    // The 24-hour reminder is due 3 s from now, so we see what the workflow does next.
    const startsAt = wholeSecond(Date.now() + DAY + 3 * SECOND);
    const { consultationId, handle } = await startConsultation(startsAt);
    const [day, hour] = await timersOnceStarted(handle, 2);
    expectSetFor(day, startsAt - DAY);
    expect(day!.firedAt).toBeGreaterThanOrEqual(startsAt - DAY);
    expectSetFor(hour, startsAt - HOUR);
    expect(hour!.durationMs).toBeGreaterThan(22 * HOUR);
    // Between the two: the 24-hour reminder, once.
    const sent = activitiesIn(await eventsOf(handle)).filter((a) => a.name === 'sendConsultationReminder');
    expect(sent.map((a) => a.arg)).toEqual([{ tenantId: expect.any(String), consultationId, kind: 'before-86400s', startsAt: new Date(startsAt).toISOString() }]);
    expect(sent[0]!.at).toBeGreaterThanOrEqual(day!.firedAt!);

    // Cancelling ends it; only then is "once" a fact.
    expect(await update(handle, 'cancel', { reasonRef: STAGED })).toMatchObject({ status: 'cancelled' });
    expect(await handle.result()).toEqual({ status: 'cancelled', outcome: 'ended' });
    expect(timersIn(await eventsOf(handle))[1]!.canceled).toBe(true);
    expect(reminders(consultationId)).toEqual(['before-86400s']);
  });

  it('fires reminders and the no-show in order, each at its moment (second-scale timings)', async () => {
    const startsAt = wholeSecond(Date.now() + 6 * SECOND);
    const { consultationId, handle } = await startConsultation(startsAt, { reminderOffsetsSec: [4, 2], noShowAfterSec: 1 });
    expect(await handle.result()).toEqual({ status: 'no_show', outcome: 'ended' });
    const events = await eventsOf(handle);
    const timers = timersIn(events);
    expect(timers).toHaveLength(3);
    expectSetFor(timers[0], startsAt - 4 * SECOND);
    expectSetFor(timers[1], startsAt - 2 * SECOND);
    expectSetFor(timers[2], startsAt + 1 * SECOND);
    for (const t of timers) expect(t.firedAt).toBeGreaterThanOrEqual(t.target);
    // Reminders and the no-show's step are activities in history; the moments they ran at are read
    // from what the stubs were called with.
    const acts = activitiesIn(events);
    expect(acts.map((a) => `${a.name}:${a.arg.kind ?? a.arg.type}`)).toEqual(['sendConsultationReminder:before-4s', 'sendConsultationReminder:before-2s', 'recordConsultation:no_show']);
    const done = callsFor(consultationId);
    expect(done.map((c) => `${c.name}:${c.args.kind ?? c.args.type}`)).toEqual([
      'sendConsultationReminder:before-4s',
      'sendConsultationReminder:before-2s',
      'recordConsultation:no_show',
    ]);
    done.forEach((c, i) => expect(c.at).toBeGreaterThanOrEqual(timers[i]!.firedAt!));
  });

  it('booked late: sends only the latest reminder already due, at once, and sets the no-show for start + 15 min', async () => {
    const startsAt = wholeSecond(Date.now() + 30 * MINUTE); // both the 24-hour and the 1-hour moments have passed
    const { consultationId, handle } = await startConsultation(startsAt);
    // "At once" is a timer of no length; after it, the reminder; then the no-show's timer.
    const [atOnce, noShow] = await timersOnceStarted(handle, 2);
    expect(atOnce!.durationMs).toBeLessThanOrEqual(1);
    expectSetFor(noShow, startsAt + 900 * SECOND);
    const acts = activitiesIn(await eventsOf(handle));
    expect(acts.map((a) => a.arg.kind)).toEqual(['before-3600s']);
    expect(acts[0]!.at).toBeGreaterThanOrEqual(atOnce!.firedAt!);
    expect(await update(handle, 'cancel', { reasonRef: STAGED })).toMatchObject({ status: 'cancelled' });
    expect(await handle.result()).toEqual({ status: 'cancelled', outcome: 'ended' });
    expect(reminders(consultationId)).toEqual(['before-3600s']);
  });

  it('a walk-in booked later into its slot than the no-show wait: the no-show counts from the booking, not from the start', async () => {
    const startsAt = wholeSecond(Date.now() - 20 * MINUTE); // the slot began 20 min ago; no-show after 15 min
    const { consultationId, handle } = await startConsultation(startsAt);
    const [noShow] = await timersOnceStarted(handle, 1);
    const bookedAt = tsToMs((await eventsOf(handle))[0]!.eventTime);
    expect(noShow!.target).toBeGreaterThanOrEqual(bookedAt + 900 * SECOND);
    expect(noShow!.target).toBeLessThanOrEqual(bookedAt + 905 * SECOND);
    // Before, it fired at once: the visit was a no-show before the patient could check in.
    expect(await update(handle, 'checkIn')).toMatchObject({ status: 'checked_in' });
    expect(await update(handle, 'cancel', { reasonRef: STAGED })).toMatchObject({ status: 'cancelled' });
    expect(await handle.result()).toEqual({ status: 'cancelled', outcome: 'ended' });
    expect(callsFor(consultationId).map((c) => c.args.type)).not.toContain('no_show');
    await recordHistory(handle, 'consultation-walk-in-no-show-after-booking');
  });

  it('opens check-in on the visit\'s day in Japan: a check-in days ahead is refused before it enters the history, a visit later today is taken', async () => {
    const aheadAt = wholeSecond(Date.now() + 3 * DAY);
    const ahead = await startConsultation(aheadAt);
    await timersOnceStarted(ahead.handle, 1);
    const refused = await update(ahead.handle, 'checkIn').then(
      () => null,
      (err: { cause?: { type?: string; message?: string } }) => err.cause,
    );
    expect(refused?.type).toBe('BeforeVisitDay');
    expect(refused?.message).toContain(japanInstant(japanDateOf(new Date(aheadAt))).toISOString());
    // Refused by the validator: no step was recorded and the history has no update in it.
    expect(callsFor(ahead.consultationId)).toEqual([]);
    expect((await eventsOf(ahead.handle)).some((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toBe(false);
    expect(await ahead.handle.query('status')).toMatchObject({ status: 'reserved' });

    // 23:55 in Japan today (begun or not): open since midnight, even with no video-room lead at all.
    const later = await startConsultation(japanInstant(japanDateOf(new Date()), 23 * 60 + 55).getTime(), { joinWindowBeforeSec: 0, reminderOffsetsSec: [] });
    expect(await update(later.handle, 'checkIn')).toMatchObject({ status: 'checked_in' });
    for (const { handle } of [ahead, later]) await update(handle, 'cancel', { reasonRef: STAGED });
    expect(await ahead.handle.result()).toEqual({ status: 'cancelled', outcome: 'ended' });
  });

  it.each([
    ['checkIn', 'in_person', 'BeforeVisitDay'],
    ['join', 'online', 'OutsideJoinWindow'],
  ] as const)('checks the time again when it applies a %s: one that waited behind a reschedule to next week is refused, not applied to next week\'s visit', async (action, mode, refusal) => {
    const { consultationId, handle } = await startConsultation(wholeSecond(Date.now() + 2 * MINUTE), { reminderOffsetsSec: [] }, mode);
    await timersOnceStarted(handle, 1);
    // The reschedule's step is held while it has the workflow's lock.
    let reached!: () => void;
    let release!: () => void;
    const atStep = new Promise<void>((r) => (reached = r));
    held.set(consultationId, { reached, release: new Promise<void>((r) => (release = r)) });
    const nextWeek = wholeSecond(Date.now() + 7 * DAY);
    const moving = update(handle, 'reschedule', { startsAt: new Date(nextWeek).toISOString(), endsAt: new Date(nextWeek + 5 * MINUTE).toISOString() });
    await atStep;
    // Today's visit as the validator sees it: accepted, then waits for the lock.
    const acting = update(handle, action).then(
      () => null,
      (err: { cause?: { type?: string } }) => err.cause?.type,
    );
    await eventually('the action is accepted into the history', async () => (await eventsOf(handle)).some((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === action));
    release();
    expect(await moving).toMatchObject({ status: 'reserved', startsAt: new Date(nextWeek).toISOString() });
    expect(await acting).toBe(refusal);
    expect(await handle.query('status')).toMatchObject({ status: 'reserved' });
    expect(callsFor(consultationId).map((c) => c.args.type)).toEqual(['reschedule']);
    await update(handle, 'cancel', { reasonRef: STAGED });
    expect(await handle.result()).toEqual({ status: 'cancelled', outcome: 'ended' });
  });

  it('moves its timers with a reschedule', async () => {
    const startsAt = wholeSecond(Date.now() + 3 * DAY);
    const { handle } = await startConsultation(startsAt);
    const [first] = await timersOnceStarted(handle, 1);
    expectSetFor(first, startsAt - DAY);
    const movedTo = startsAt + DAY + 30 * MINUTE;
    await update(handle, 'reschedule', { startsAt: new Date(movedTo).toISOString(), endsAt: new Date(movedTo + 5 * MINUTE).toISOString() });
    const [old, next] = await timersOnceStarted(handle, 2);
    expect(old!.canceled).toBe(true);
    expectSetFor(next, movedTo - DAY);
    await update(handle, 'cancel', { reasonRef: STAGED });
    expect(await handle.result()).toEqual({ status: 'cancelled', outcome: 'ended' });
  });

  it('drops the no-show when the patient checks in, and sets the payment reminder when the visit ends', async () => {
    const startsAt = wholeSecond(Date.now() - 2 * MINUTE); // a walk-in: the slot has begun
    const { consultationId, handle } = await startConsultation(startsAt, { reminderOffsetsSec: [] });
    const [noShow] = await timersOnceStarted(handle, 1);
    // Booked after the start: counted from the booking (the run's start).
    expectSetFor(noShow, tsToMs((await eventsOf(handle))[0]!.eventTime) + 900 * SECOND);
    for (const action of ['checkIn', 'start']) await update(handle, action);
    expect(await update(handle, 'finish', { noteRef: STAGED, prescriptionsRef: STAGED })).toMatchObject({ status: 'finished' });
    const [dropped, payment] = await timersOnceStarted(handle, 2);
    expect(dropped!.canceled).toBe(true);
    // Set in the same workflow task that recorded the finish: exactly the configured delay.
    expect(payment!.durationMs).toBe(86_400 * SECOND);
    expect(await update(handle, 'payment', { amount: 1000, method: 'cash' })).toMatchObject({ status: 'paid' });
    expect(await handle.result()).toEqual({ status: 'completed', outcome: 'ended' });
    expect(timersIn(await eventsOf(handle))[1]!.canceled).toBe(true);
    expect(callsFor(consultationId).map((c) => c.args.type)).toEqual(['checkIn', 'start', 'finish', 'payment', 'complete']);
  });
});

// ---- account onboarding -----------------------------------------------------------------------

async function startOnboarding(expiresAt: number, accountId = randomUUID()) {
  const handle = await client.workflow.start<typeof accountOnboardingWorkflow>('accountOnboardingWorkflow', {
    workflowId: `account-onboarding/${accountId}`,
    taskQueue,
    args: [{ tenantId: randomUUID(), accountId, initialPasswordExpiresAt: new Date(expiresAt).toISOString() }],
  });
  return { accountId, handle };
}
const stateOf = (handle: WorkflowHandle) => handle.query<string>('state');
const expiries = (id: string) => callsFor(id).filter((c) => c.name === 'expireInitialPassword');

describe('onboarding: the initial password expiry', () => {
  it('expires the initial password at its deadline; a reset sets the next one; logging in then ends it', async () => {
    const expiresAt = wholeSecond(Date.now() + 2 * SECOND);
    const { accountId, handle } = await startOnboarding(expiresAt);
    const [first] = await timersOnceStarted(handle, 1);
    expectSetFor(first, expiresAt);
    await eventually('the password expired', async () => (await stateOf(handle)) === 'initial_password_expired');
    const [fired] = timersIn(await eventsOf(handle));
    expect(fired!.firedAt).toBeGreaterThanOrEqual(expiresAt);
    expect(expiries(accountId)).toHaveLength(1);

    const nextExpiry = wholeSecond(Date.now() + 7 * DAY);
    await handle.signal('passwordReset', { initialPasswordExpiresAt: new Date(nextExpiry).toISOString() });
    const [, second] = await timersOnceStarted(handle, 2);
    expectSetFor(second, nextExpiry);
    expect(await stateOf(handle)).toBe('awaiting_first_login');

    await handle.signal('firstLogin');
    await handle.signal('passwordChanged', { secondFactorRequired: false });
    expect(await handle.result()).toEqual({ accountId, state: 'active' });
    expect(timersIn(await eventsOf(handle))[1]!.canceled).toBe(true);
    expect(expiries(accountId)).toHaveLength(1);
  });

  it('a first login before the deadline drops the timer: nothing expires', async () => {
    const expiresAt = wholeSecond(Date.now() + 3 * DAY);
    const { accountId, handle } = await startOnboarding(expiresAt);
    const [timer] = await timersOnceStarted(handle, 1);
    expectSetFor(timer, expiresAt);
    await handle.signal('firstLogin');
    await handle.signal('passwordChanged', { secondFactorRequired: true });
    await handle.signal('passkeyRegistered');
    expect(await handle.result()).toEqual({ accountId, state: 'active' });
    expect(timersIn(await eventsOf(handle))).toMatchObject([{ canceled: true }]);
    expect(expiries(accountId)).toHaveLength(0);
  });

  it('when the database\'s clock says the password has not expired yet, asks again a minute later instead of waiting for a signal that never comes', async () => {
    const expiresAt = wholeSecond(Date.now() + 1 * SECOND);
    const { accountId, handle } = await startOnboarding(expiresAt, `late-clock-${randomUUID()}`);
    // The deadline's timer fired, the first ask answered "not due", and a one-minute timer now
    // waits for the second ask (read from the history; not waited for).
    const [deadline, again] = await timersOnceStarted(handle, 2);
    expect(deadline!.firedAt).toBeGreaterThanOrEqual(expiresAt);
    expect([again!.durationMs, again!.canceled, again!.firedAt]).toEqual([MINUTE, false, undefined]);
    expect(expiries(accountId)).toHaveLength(1);
    expect(await stateOf(handle)).toBe('awaiting_first_login');
    // A login meanwhile still wins: the wait ends at once, nothing expires.
    await handle.signal('firstLogin');
    await handle.signal('passwordChanged', { secondFactorRequired: false });
    expect(await handle.result()).toEqual({ accountId, state: 'active' });
    expect(expiries(accountId)).toHaveLength(1);
    await recordHistory(handle, 'account-onboarding-expiry-not-due');
  });

  it('when the login won the race against the deadline, waits for its signal instead of expiring', async () => {
    const { accountId, handle } = await startOnboarding(wholeSecond(Date.now() + 1 * SECOND), `raced-${randomUUID()}`);
    await eventually('the expiry was tried', async () => activitiesIn(await eventsOf(handle)).length === 1 && expiries(accountId).length === 1);
    await eventually('the expiry answered', async () => (await eventsOf(handle)).some((e) => e.activityTaskCompletedEventAttributes));
    expect(await stateOf(handle)).toBe('awaiting_first_login');
    await handle.signal('firstLogin');
    await handle.signal('passwordChanged', { secondFactorRequired: false });
    expect(await handle.result()).toEqual({ accountId, state: 'active' });
    expect(expiries(accountId)).toHaveLength(1);
  });
});
