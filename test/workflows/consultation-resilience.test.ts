import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetchLocalEmails } from '../../lib/local-ses';
import { call } from '../harness/http';
import { book, bookingClinic } from '../harness/consultations';
import { WALK_IN_RULES, runningSlot, slotOn } from '../harness/slots';
import { eventually } from '../harness/clinic';
import { startTestStack, type TestStack } from '../harness/stack';
import { forkWorker } from '../harness/worker-process';

jest.setTimeout(120_000);

describe('no-show', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ NO_SHOW_AFTER_SECONDS: '1', CONSULTATION_REMINDERS_SECONDS: '60' });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('marks a consultation nobody checked in to as no_show and releases the slot', async () => {
    // A doctor who sees walk-ins around the clock; the slot running now is booked, so its no-show
    // moment comes within a second (in the last 30 s of a slot: the next one's, within 31 s).
    const c = await bookingClinic(stack, { rules: WALK_IN_RULES });
    const startsAt = runningSlot();
    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt, mode: 'in_person' });
    expect(booked.status).toBe(201);
    const result = await stack.temporal.client.workflow.getHandle(`consultation/${booked.body.id}`).result();
    expect(result).toEqual({ status: 'no_show', outcome: 'ended' });
    const row = await call(stack.url, 'GET', `/v1/consultations/${booked.body.id}`, { token: c.staffToken });
    expect(row.body.status).toBe('no_show');
    expect(row.body.timeline.map((e: { type: string }) => e.type)).toEqual(['no_show']);
    expect((await call(stack.url, 'POST', `/v1/consultations/${booked.body.id}/check-in`, { token: c.staffToken })).body.code).toBe('invalid_transition');
    expect((await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt, mode: 'in_person' })).status).toBe(201);
  });
});

describe('a worker killed during an activity', () => {
  let stack: TestStack;
  let hang: http.Server;
  const arrivals: string[] = [];
  beforeAll(async () => {
    // The slot below is 33–66 h ahead at any hour (test/harness/slots.ts): the 10-day reminder is
    // due at once, the 1-hour one not during the test.
    // JOIN_WINDOW_BEFORE_SECONDS: the visit is checked in now, days ahead (domain/consultation.ts checkInOpensAt).
    stack = await startTestStack({ CONSULTATION_REMINDERS_SECONDS: '864000,3600', NO_SHOW_AFTER_SECONDS: '3600', JOIN_WINDOW_BEFORE_SECONDS: String(7 * 86_400) });
    // An SES endpoint that accepts the request and never answers: the worker is stuck mid-send.
    hang = http.createServer((req) => {
      arrivals.push(req.url ?? '');
    });
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    hang.closeAllConnections();
    hang.close();
    await stack?.stop();
  });

  it('is retried on another worker: one reminder e-mail, one timeline row per event, and the visit completes', async () => {
    const c = await bookingClinic(stack, { patientEmail: 'killed-worker@example.jp' });
    // From here on the only worker is a separate process whose mail calls hang.
    await stack.stopWorker();
    const doomed = await forkWorker(stack, { SES_ENDPOINT: `http://127.0.0.1:${(hang.address() as AddressInfo).port}`, LOG_LEVEL: 'error' });

    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slotOn(2, '10:00'), mode: 'in_person' });
    expect(booked.status).toBe(201);
    await eventually('the reminder activity is stuck in the SES call', async () => arrivals.length > 0);
    await doomed.kill();

    await stack.startWorker();
    await eventually('the reminder is retried and sent', async () => (await fetchLocalEmails(stack.sesEndpoint)).some((m) => m.destination.to[0] === 'killed-worker@example.jp'), 40_000);
    const id = booked.body.id;
    const post = (token: string, action: string, json?: unknown) => call(stack.url, 'POST', `/v1/consultations/${id}/${action}`, { token, json });
    expect((await post(c.staffToken, 'check-in')).body.status).toBe('checked_in');
    expect((await post(c.doctorToken, 'start')).body.status).toBe('in_consultation');
    expect((await post(c.doctorToken, 'finish', { note: 'ok' })).body.status).toBe('finished');
    expect((await post(c.staffToken, 'payment', { amount: 500, method: 'cash' })).body.status).toBe('paid');
    expect(await stack.temporal.client.workflow.getHandle(`consultation/${id}`).result()).toEqual({ status: 'completed', outcome: 'ended' });

    const mails = (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.destination.to[0] === 'killed-worker@example.jp');
    expect(mails).toHaveLength(1);
    const deliveries = await stack.database.ownerDb('email_deliveries').where('idempotency_key', 'like', `consultation/${id}/%`);
    expect(deliveries.map((d: { status: string }) => d.status)).toEqual(['sent']);
    const events = await stack.database.ownerDb('consultation_events').where({ consultation_id: id }).orderBy('id');
    expect(events.map((e: { type: string }) => e.type)).toEqual(['checkIn', 'start', 'finish', 'payment', 'complete']);
  });
});

describe('an action the API stopped waiting for', () => {
  let stack: TestStack;
  beforeAll(async () => {
    // JOIN_WINDOW_BEFORE_SECONDS: the visit is checked in now, days ahead (domain/consultation.ts checkInOpensAt).
    stack = await startTestStack({ CONSULTATION_REMINDERS_SECONDS: '864000', NO_SHOW_AFTER_SECONDS: '3600', JOIN_WINDOW_BEFORE_SECONDS: String(7 * 86_400) });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('is logged by the workflow step that applied it, naming who asked, exactly once (the 503 had left it unlogged)', async () => {
    const c = await bookingClinic(stack);
    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slotOn(2, '11:00'), mode: 'in_person' });
    expect(booked.status).toBe(201);
    const id = booked.body.id as string;
    await eventually('the booking\'s workflow has run', async () => (await stack.temporal.client.workflow.getHandle(`consultation/${id}`).query<{ status: string }>('status')).status === 'reserved');
    // No worker: the API waits its 5 s for the update, answers 503, and stops waiting.
    await stack.stopWorker();
    const waited = await call(stack.url, 'POST', `/v1/consultations/${id}/check-in`, { token: c.staffToken });
    expect([waited.status, waited.body.code]).toEqual([503, 'service_unavailable']);
    // The update was taken all the same and is applied when a worker comes back.
    await stack.startWorker();
    await eventually('the check-in applied', async () => (await stack.database.ownerDb('consultations').where({ id }).first()).status === 'checked_in', 30_000);
    const entries = await stack.database.ownerDb('audit_events').where({ target_id: id, action: 'consultation.check-in' });
    expect(entries.map((e: { outcome: string; actorType: string; actorId: string }) => [e.outcome, e.actorType, e.actorId])).toEqual([['success', 'account', c.staffId]]);
    // An action with content (a cancel's reason) answered 503 and sent again with its key joins the
    // update the server ran: its content was kept for it (deleting it made the run fail content_missing).
    await stack.stopWorker();
    const cancel = () => call(stack.url, 'POST', `/v1/consultations/${id}/cancel`, { token: c.staffToken, json: { reason: 'the patient called' }, headers: { 'idempotency-key': `cancel-${id}` } });
    expect((await cancel()).status).toBe(503);
    await stack.startWorker();
    await eventually('the cancel applied', async () => (await stack.database.ownerDb('consultations').where({ id }).first()).status === 'cancelled', 30_000);
    const again = await cancel();
    expect([again.status, again.body.status]).toEqual([200, 'cancelled']);
    // Logged once, as done, by the step and naming the desk: the retry is the answer the first request never got
    // (the key's first answered request), not a repeat; nothing refused.
    const cancels = await stack.database.ownerDb('audit_events').where({ target_id: id, action: 'consultation.cancel' }).orderBy('seq');
    expect(cancels.map((e: { outcome: string; actorId: string; details: Record<string, unknown> | null }) => [e.outcome, e.actorId, e.details?.repeated ?? false])).toEqual([['success', c.staffId, false]]);
  });
});
