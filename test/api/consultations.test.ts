import { jwtVerify } from 'jose';
import { japanDateOf } from '../../domain/japan-time';
import { fetchLocalEmails } from '../../lib/local-ses';
import { call } from '../harness/http';
import { createHash, randomUUID } from 'node:crypto';
import { createConsultationActivities } from '../../activities/consultations';
import { recordHistory } from '../harness/history';
import { japanDateOf as jstDate } from '../../domain/japan-time';
import { book, bookingClinic, idempotencyKey } from '../harness/consultations';
import { WALK_IN_RULES, slotOn } from '../harness/slots';
import { activate, createAccount, eventually } from '../harness/clinic';
import { startTestStack, type TestStack } from '../harness/stack';

const VIDEO_SECRET = 'v'.repeat(48);
/**
 * The test's clock, read once: every slot below is on the Japanese date two days after this
 * one's, inside the doctor's hours, so 33 to 66 hours ahead whatever the hour
 * (test/harness/slots.ts, checked at every hour in test/unit/test-slots.test.ts). With the timings
 * below such a booking always gets the 10-day reminder at once (the 20-day one, also overdue, is
 * skipped), never the 1-hour one nor a no-show while the test runs, and the 7-day join window is
 * open for it but not for a slot 14 days ahead.
 */
const clock = new Date();
const slot = (time: string) => slotOn(2, time, clock);
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({
    CONSULTATION_REMINDERS_SECONDS: '1728000,864000,3600',
    JOIN_WINDOW_BEFORE_SECONDS: String(7 * 86_400),
    NO_SHOW_AFTER_SECONDS: '3600',
    PAYMENT_REMINDER_AFTER_SECONDS: '2',
    VIDEO_TOKEN_SECRET: VIDEO_SECRET,
  });
});
afterAll(async () => {
  await stack?.stop();
});

const post = (token: string, id: string, action: string, json?: unknown) => call(stack.url, 'POST', `/v1/consultations/${id}/${action}`, { token, json });
/** The kinds of mail sent for one consultation (its own delivery records, whoever else shares the mail server). */
const delivered = async (id: string): Promise<string[]> =>
  (await stack.database.ownerDb('email_deliveries').where('idempotency_key', 'like', `consultation/${id}/%`).where({ status: 'sent' }).orderBy('idempotency_key')).map(
    (d: { idempotencyKey: string }) => d.idempotencyKey.split('/')[2]!,
  );

/** One action's entries in the operation log, oldest first: [outcome, repeated or the refusal's code]. */
const outcomesLogged = async (consultationId: string, action: string) =>
  (await stack.database.ownerDb('audit_events').where({ target_id: consultationId, action }).orderBy('seq')).map(
    (e: { outcome: string; details: Record<string, unknown> | null }) => [e.outcome, e.details?.repeated ?? e.details?.code ?? null],
  );

describe('the consultation lifecycle through the API', () => {
  it('in person: reserved → questionnaire → checked_in → in_consultation → finished → paid → completed', async () => {
    const c = await bookingClinic(stack, { patientEmail: 'hanako@example.jp' });
    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('10:00'), mode: 'in_person' });
    expect(booked.status).toBe(201);
    expect(booked.body).toMatchObject({ status: 'reserved', workflowId: `consultation/${booked.body.id}`, mode: 'in_person' });
    const id = booked.body.id;

    expect((await post(c.staffToken, id, 'questionnaire', { answers: { symptoms: '頭痛と発熱', allergies: 'ペニシリン' } })).body.status).toBe('reserved');
    // Only a doctor starts and finishes.
    expect((await post(c.staffToken, id, 'start')).status).toBe(403);
    expect((await post(c.doctorToken, id, 'finish', { note: 'x' })).body.code).toBe('invalid_transition');
    expect((await post(c.staffToken, id, 'check-in')).body.status).toBe('checked_in');
    expect((await post(c.staffToken, id, 'check-in')).body.code).toBe('invalid_transition');
    expect((await post(c.doctorToken, id, 'start')).body.status).toBe('in_consultation');
    const finished = await post(c.doctorToken, id, 'finish', { note: '急性上気道炎。解熱剤を処方。', prescriptions: [{ drug: 'アセトアミノフェン', dose: '500mg' }] });
    expect(finished.body.status).toBe('finished');
    const paid = await post(c.staffToken, id, 'payment', { amount: 1500, method: 'cash' });
    expect(paid.body).toMatchObject({ status: 'paid', payment: { amount: 1500, method: 'cash' } });
    const handle = stack.temporal.client.workflow.getHandle(`consultation/${id}`);
    expect(await handle.result()).toEqual({ status: 'completed', outcome: 'ended' });
    await recordHistory(handle, 'consultation-in-person-recorded-after-acceptance');

    const detail = await call(stack.url, 'GET', `/v1/consultations/${id}`, { token: c.doctorToken });
    expect(detail.body).toMatchObject({ status: 'completed', note: '急性上気道炎。解熱剤を処方。', questionnaire: { symptoms: '頭痛と発熱', allergies: 'ペニシリン' } });
    expect(detail.body.timeline.map((e: { type: string }) => e.type)).toEqual(['questionnaire', 'checkIn', 'start', 'finish', 'payment', 'complete']);
    // Clinical content is sealed in PostgreSQL and never in Temporal's history.
    const raw = JSON.stringify(await stack.database.ownerDb('consultations').where({ id }));
    const history = JSON.stringify(await handle.fetchHistory());
    for (const secret of ['急性上気道炎', '頭痛', 'ペニシリン', 'アセトアミノフェン']) {
      expect(raw).not.toContain(secret);
      expect(history).not.toContain(secret);
    }
    const desk = await call(stack.url, 'GET', `/v1/consultations?date=${japanDateOf(new Date(booked.body.startsAt))}&practitionerId=${c.practitionerId}`, { token: c.staffToken });
    expect(desk.body.items.map((x: { id: string }) => x.id)).toContain(id);
  });

  it('online: joins inside the window with a signed, short-lived token, then completes', async () => {
    const c = await bookingClinic(stack);
    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('10:00'), mode: 'online' });
    const id = booked.body.id;
    expect((await post(c.staffToken, id, 'check-in')).body.code).toBe('invalid_transition');
    const joined = await post(c.staffToken, id, 'join', { role: 'patient' });
    expect(joined.status).toBe(200);
    expect(joined.body.status).toBe('waiting');
    expect(joined.body.url).toMatch(/^https:\/\/video\.forclinic\.example\/rooms\/[A-Za-z0-9_-]{22}$/);
    const { payload } = await jwtVerify(joined.body.token, new TextEncoder().encode(VIDEO_SECRET), { issuer: 'for-clinic', audience: 'video' });
    expect(payload).toMatchObject({ sub: id, role: 'patient' });
    expect(payload.exp! * 1000).toBe(Date.parse(joined.body.expiresAt) - (Date.parse(joined.body.expiresAt) % 1000));
    expect((await post(c.doctorToken, id, 'join', { role: 'practitioner' })).body.status).toBe('waiting');
    // An operator finds "this clinic's online consultations still waiting" in Temporal's visibility.
    const visible = async () => {
      const found: string[] = [];
      for await (const w of stack.temporal.client.workflow.list({ query: `TenantId = '${c.clinic.id}' AND ConsultationStatus = 'waiting' AND ConsultationMode = 'online'` })) found.push(w.workflowId);
      return found;
    };
    await eventually('visibility shows the waiting consultation', async () => (await visible()).includes(`consultation/${id}`));
    expect((await post(c.doctorToken, id, 'start')).body.status).toBe('in_consultation');
    expect((await post(c.doctorToken, id, 'finish', { note: 'オンライン再診' })).body.status).toBe('finished');

    // Unpaid after the visit: the payment reminder goes out (the patient has no e-mail: recorded only).
    expect((await post(c.staffToken, id, 'payment', { amount: 800, method: 'card' })).body.status).toBe('paid');
    expect(await stack.temporal.client.workflow.getHandle(`consultation/${id}`).result()).toEqual({ status: 'completed', outcome: 'ended' });
  });

  it('reminds an unpaid patient once after the visit', async () => {
    const c = await bookingClinic(stack, { patientEmail: 'unpaid@example.jp' });
    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('10:00'), mode: 'in_person' });
    const id = booked.body.id;
    const fromClinic = async () => (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.destination.to[0] === 'unpaid@example.jp');
    await eventually('the booking reminder', async () => (await delivered(id)).length === 1);
    await post(c.staffToken, id, 'check-in');
    await post(c.doctorToken, id, 'start');
    await post(c.doctorToken, id, 'finish', { note: '経過観察' });
    await eventually('the payment reminder', async () => (await delivered(id)).includes('payment'));
    expect((await post(c.staffToken, id, 'payment', { amount: 300, method: 'qr' })).body.status).toBe('paid');
    // Counted once the workflow has finished: nothing can send anything after that.
    expect(await stack.temporal.client.workflow.getHandle(`consultation/${id}`).result()).toEqual({ status: 'completed', outcome: 'ended' });
    expect(await delivered(id)).toEqual(['before-864000s', 'payment']);
    expect((await fromClinic()).map((m) => m.subject.includes('Payment reminder'))).toEqual([false, true]);
  });

  it('refuses to open the video room outside the join window', async () => {
    const c = await bookingClinic(stack);
    const later = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slotOn(14, '10:00', clock), mode: 'online' });
    const r = await post(c.staffToken, later.body.id, 'join', { role: 'patient' });
    expect([r.status, r.body.code]).toEqual([409, 'outside_join_window']);
    expect(r.body).not.toHaveProperty('token');
  });

  it('refuses to check in a visit before its day in Japan (or its video room\'s opening, if earlier), and logs the refusal', async () => {
    const c = await bookingClinic(stack);
    const startsAt = slotOn(14, '10:00', clock);
    const later = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt, mode: 'in_person' });
    const key = idempotencyKey();
    const r = await call(stack.url, 'POST', `/v1/consultations/${later.body.id}/check-in`, { token: c.staffToken, headers: { 'idempotency-key': key } });
    expect([r.status, r.body.code]).toEqual([409, 'before_visit_day']);
    // This stack's window is 7 days, which is earlier than the visit's day: the answer says when it opens.
    expect(r.body.detail).toContain(new Date(Date.parse(startsAt) - 7 * 86_400_000).toISOString());
    expect(await outcomesLogged(later.body.id, 'consultation.check-in')).toEqual([['denied', 'before_visit_day']]);
    const row = await call(stack.url, 'GET', `/v1/consultations/${later.body.id}`, { token: c.staffToken });
    expect([row.body.status, row.body.timeline]).toEqual(['reserved', []]);
    // Refused before it entered the workflow's history, so the same key sent again is asked again
    // (on the day it is done; here it is refused again), not answered from a stored outcome.
    const again = await call(stack.url, 'POST', `/v1/consultations/${later.body.id}/check-in`, { token: c.staffToken, headers: { 'idempotency-key': key } });
    expect([again.status, again.body.code]).toEqual([409, 'before_visit_day']);
    const history = await stack.temporal.client.workflow.getHandle(later.body.workflowId).fetchHistory();
    expect(history.events?.some((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toBe(false);
  });

  it('cancels, releases the slot, and refuses actions on a cancelled consultation', async () => {
    const c = await bookingClinic(stack);
    const startsAt = slot('10:00');
    const first = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt, mode: 'in_person' });
    expect((await post(c.staffToken, first.body.id, 'cancel', { reason: '体調不良のため' })).body.status).toBe('cancelled');
    expect((await post(c.staffToken, first.body.id, 'check-in')).body.code).toBe('invalid_transition');
    const again = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt, mode: 'in_person' });
    expect(again.status).toBe(201);
    expect(JSON.stringify(await stack.database.ownerDb('consultations').where({ id: first.body.id }))).not.toContain('体調不良');
  });

  it('reschedules, moving the slot; the old slot is free and the new one taken', async () => {
    const c = await bookingClinic(stack);
    const a = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('10:00'), mode: 'in_person' });
    const taken = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('10:10'), mode: 'in_person' });
    const clash = await post(c.staffToken, a.body.id, 'reschedule', { startsAt: slot('10:10') });
    expect([clash.status, clash.body.code]).toEqual([409, 'slot_taken']);
    const outside = await post(c.staffToken, a.body.id, 'reschedule', { startsAt: slot('20:00') });
    expect([outside.status, outside.body.code]).toEqual([400, 'not_a_slot']);
    const moved = await post(c.staffToken, a.body.id, 'reschedule', { startsAt: slot('10:05') });
    expect(moved.body).toMatchObject({ status: 'reserved', startsAt: slot('10:05') });
    expect((await stack.temporal.client.workflow.getHandle(`consultation/${a.body.id}`).query('status'))).toMatchObject({ startsAt: slot('10:05') });
    expect((await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('10:00'), mode: 'in_person' })).status).toBe(201);
    void taken;
  });

  it('stays consistent when a reschedule races a check-in', async () => {
    const c = await bookingClinic(stack);
    const a = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('10:00'), mode: 'in_person' });
    const [moved, checked] = await Promise.all([post(c.staffToken, a.body.id, 'reschedule', { startsAt: slot('10:05') }), post(c.staffToken, a.body.id, 'check-in')]);
    expect(checked.status).toBe(200); // checking in is always possible from reserved
    const db = await stack.database.ownerDb('consultations').where({ id: a.body.id }).first();
    const wf = await stack.temporal.client.workflow.getHandle(`consultation/${a.body.id}`).query<{ status: string; startsAt: string }>('status');
    expect(wf.status).toBe('checked_in');
    expect(db.status).toBe('checked_in');
    expect(db.startsAt.toISOString()).toBe(wf.startsAt);
    if (moved.status === 200) expect(wf.startsAt).toBe(slot('10:05'));
    else expect([moved.status, moved.body.code, wf.startsAt]).toEqual([409, 'invalid_transition', slot('10:00')]);
  });

  it('never gives one doctor two overlapping consultations: not off today\'s grid after the hours moved, not by reschedule, not while another is being made', async () => {
    const c = await bookingClinic(stack);
    const week = (startTime: string, endTime: string) => [0, 1, 2, 3, 4, 5, 6].map((weekday) => ({ weekday, startTime, endTime }));
    const doctor = await call(stack.url, 'POST', '/v1/practitioners', { token: c.adminToken, json: { displayName: '高橋 医師', slotMinutes: 30, rules: week('09:00', '12:00') } });
    const at = (time: string) => ({ patientId: c.patientId, practitionerId: doctor.body.id, startsAt: slot(time), mode: 'in_person' });
    expect((await book(stack, c.staffToken, at('09:00'))).status).toBe(201);
    const eleven = await book(stack, c.staffToken, at('11:00'));
    expect(eleven.status).toBe(201);
    // The hours now start a quarter later: their grid runs 09:15, 09:45, … across both bookings.
    const day = jstDate(new Date(slot('09:00')));
    const hours = await call(stack.url, 'PUT', `/v1/practitioners/${doctor.body.id}/availability`, { token: c.adminToken, json: { rules: week('09:15', '12:15') } });
    expect(hours.status).toBe(200);
    const clash = await book(stack, c.staffToken, at('09:15'));
    expect([clash.status, clash.body.code]).toEqual([409, 'slot_taken']);
    const free = await call(stack.url, 'GET', `/v1/practitioners/${doctor.body.id}/slots?from=${encodeURIComponent(slot('09:00'))}&to=${encodeURIComponent(slot('12:15'))}`, { token: c.staffToken });
    expect(free.body.items.map((s: { startsAt: string }) => s.startsAt)).toEqual(['09:45', '10:15', '11:45'].map(slot));
    const overlapping = await post(c.staffToken, eleven.body.id, 'reschedule', { startsAt: slot('09:15') });
    expect([overlapping.status, overlapping.body.code]).toEqual([409, 'slot_taken']);
    expect((await post(c.staffToken, eleven.body.id, 'reschedule', { startsAt: slot('09:45') })).status).toBe(200);

    // A booking on another grid still being made (10:50–11:20, its transaction holding the doctor's
    // lock): a booking of 11:15 waits for it, then sees it. Without the lock both would commit.
    const desk = (await call(stack.url, 'GET', '/v1/me', { token: c.staffToken })).body.accountId;
    const owner = stack.database.ownerDb;
    const held = await owner.transaction();
    let waiting: ReturnType<typeof book> | undefined;
    try {
      await held.raw(`select pg_advisory_xact_lock(hashtext('practitioner_slots'), hashtext(?::text))`, [doctor.body.id]);
      const elsewhere = { starts_at: new Date(Date.parse(slot('10:50'))), ends_at: new Date(Date.parse(slot('11:20'))) };
      await held('consultations').insert({
        id: randomUUID(), tenant_id: c.clinic.id, patient_id: c.patientId, practitioner_id: doctor.body.id, ...elsewhere, booked_starts_at: elsewhere.starts_at,
        mode: 'in_person', status: 'reserved', workflow_id: 'consultation/held-elsewhere', idempotency_key: idempotencyKey(), created_by: desk,
      });
      waiting = book(stack, c.staffToken, at('11:15'));
      const waits = `select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database())`;
      await eventually('the booking waits for the doctor\'s lock', async () => (await owner.raw(waits)).rows[0].n > 0);
      await held.commit();
    } finally {
      // A failed step must not leave the lock held (the stack could not stop).
      if (!held.isCompleted()) await held.rollback();
    }
    const late = await waiting!;
    expect([late.status, late.body.code]).toEqual([409, 'slot_taken']);
    const live = await stack.database.ownerDb('consultations').where({ practitioner_id: doctor.body.id }).whereNotIn('status', ['cancelled', 'no_show']).orderBy('starts_at');
    for (let i = 1; i < live.length; i += 1) expect(live[i].startsAt.getTime()).toBeGreaterThanOrEqual(live[i - 1].endsAt.getTime());
  });

  it('gives exactly one of 50 concurrent bookings of a slot, the rest 409 slot_taken', async () => {
    const c = await bookingClinic(stack);
    const startsAt = slot('10:00');
    const replies = await Promise.all(
      Array.from({ length: 50 }, () => book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt, mode: 'in_person' })),
    );
    expect(replies.filter((r) => r.status === 201)).toHaveLength(1);
    expect(replies.filter((r) => r.status === 409 && r.body.code === 'slot_taken')).toHaveLength(49);
    const rows = await stack.database.ownerDb('consultations').where({ practitioner_id: c.practitionerId, starts_at: new Date(startsAt) });
    expect(rows).toHaveLength(1);
  });

  it('answers a repeated request with the same Idempotency-Key with the first result, starting nothing new', async () => {
    const c = await bookingClinic(stack);
    const key = idempotencyKey();
    const body = { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('10:00'), mode: 'in_person' };
    const [a, b] = await Promise.all([book(stack, c.staffToken, body, key), book(stack, c.staffToken, body, key)]);
    const cc = await book(stack, c.staffToken, body, key);
    expect(a.status).toBe(201);
    expect(b.body.id).toBe(a.body.id);
    expect(cc.body.id).toBe(a.body.id);
    expect(await stack.database.ownerDb('consultations').where({ idempotency_key: key })).toHaveLength(1);
    // One booking in the operation log, and its two repeats as such.
    const logged = await stack.database.ownerDb('audit_events').where({ target_id: a.body.id, action: 'consultation.book' });
    expect(logged.map((e: { outcome: string; details: { repeated?: boolean } }) => [e.outcome, e.details.repeated ?? null]).sort()).toEqual([
      ['success', null],
      ['success', true],
      ['success', true],
    ]);
    const missing = await call(stack.url, 'POST', '/v1/consultations', { token: c.staffToken, json: body });
    expect([missing.status, missing.body.code]).toEqual([400, 'idempotency_key_required']);
  });

  it('logs each action under the person who asked, also when one key is used on several consultations by several people', async () => {
    const c = await bookingClinic(stack);
    const visit = async (at: string) => (await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot(at), mode: 'in_person' })).body.id as string;
    const [refused, first, second, third] = [await visit('11:00'), await visit('11:30'), await visit('12:00'), await visit('12:30')];
    expect((await call(stack.url, 'POST', `/v1/consultations/${refused}/cancel`, { token: c.staffToken, json: { reason: 'x' } })).status).toBe(200);
    const checkIn = (token: string, id: string, key: string) => call(stack.url, 'POST', `/v1/consultations/${id}/check-in`, { token, headers: { 'idempotency-key': key } });
    const one = idempotencyKey();
    const two = idempotencyKey();
    expect((await checkIn(c.staffToken, refused, one)).status).toBe(409);
    expect((await checkIn(c.adminToken, first, one)).status).toBe(200);
    expect((await checkIn(c.staffToken, second, two)).status).toBe(200);
    expect((await checkIn(c.adminToken, third, two)).status).toBe(200);
    const actors = async (id: string) =>
      (await stack.database.ownerDb('audit_events').where({ target_id: id, action: 'consultation.check-in' }).orderBy('seq')).map((e: { outcome: string; actorId: string }) => [e.outcome, e.actorId]);
    expect(await actors(refused)).toEqual([['denied', c.staffId]]);
    expect(await actors(first)).toEqual([['success', c.adminId]]);
    expect(await actors(second)).toEqual([['success', c.staffId]]);
    expect(await actors(third)).toEqual([['success', c.adminId]]);
  });

  it('answers a repeated action with the same Idempotency-Key with the first outcome, recording it once', async () => {
    const c = await bookingClinic(stack);
    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('10:30'), mode: 'in_person' });
    const id = booked.body.id as string;
    const key = idempotencyKey();
    const checkIn = () => call(stack.url, 'POST', `/v1/consultations/${id}/check-in`, { token: c.staffToken, headers: { 'idempotency-key': key } });
    // Two at once (a retry racing the original) and one after: each answers the one check-in.
    const answers = [...(await Promise.all([checkIn(), checkIn()])), await checkIn()];
    expect(answers.map((a) => [a.status, a.body.status])).toEqual([[200, 'checked_in'], [200, 'checked_in'], [200, 'checked_in']]);
    expect(await stack.database.ownerDb('consultation_events').where({ consultation_id: id, type: 'checkIn' })).toHaveLength(1);
    // The operation log says so: one check-in, two repeats of it.
    const logged = async () =>
      (await stack.database.ownerDb('audit_events').where({ target_id: id }).whereNot({ action: 'consultation.book' }).whereLike('action', 'consultation.%').orderBy('seq')).map(
        (e: { action: string; outcome: string; details: Record<string, unknown> | null }) => [e.action, e.outcome, e.details?.repeated ?? e.details?.code ?? null],
      );
    // (The two at once may be logged in either order.)
    expect((await logged()).sort()).toEqual([
      ['consultation.check-in', 'success', null],
      ['consultation.check-in', 'success', true],
      ['consultation.check-in', 'success', true],
    ]);
    // The same key with another request (here another action, with a body) is refused, not answered
    // with the check-in's outcome as if the cancellation had been done.
    const reused = await call(stack.url, 'POST', `/v1/consultations/${id}/cancel`, { token: c.staffToken, json: { reason: 'やはり取り消し' }, headers: { 'idempotency-key': key } });
    expect([reused.status, reused.body.code]).toEqual([409, 'idempotency_key_reused']);
    expect((await stack.database.ownerDb('consultations').where({ id }).first()).status).toBe('checked_in');
    expect((await logged()).at(-1)).toEqual(['consultation.cancel', 'denied', 'idempotency_key_reused']);
    // The key is the client's text: the workflow's history keeps only its hash.
    const history = await stack.temporal.client.workflow.getHandle(booked.body.workflowId).fetchHistory();
    expect(JSON.stringify(history)).not.toContain(key);
    // Without the key a repeat is still refused; a malformed key is a 400.
    expect((await post(c.staffToken, id, 'check-in')).body.code).toBe('invalid_transition');
    const bad = await call(stack.url, 'POST', `/v1/consultations/${id}/check-in`, { token: c.staffToken, headers: { 'idempotency-key': 'short' } });
    expect([bad.status, bad.body.code]).toEqual([400, 'idempotency_key_required']);
    // An empty key is a key the client meant to send, not none.
    const empty = await call(stack.url, 'POST', `/v1/consultations/${id}/cancel`, { token: c.staffToken, json: { reason: '空' }, headers: { 'idempotency-key': '' } });
    expect([empty.status, empty.body.code]).toEqual([400, 'idempotency_key_required']);
  });

  it('does the action on a retry whose key was first refused, and logs it as done, not as a repeat', async () => {
    const c = await bookingClinic(stack);
    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('11:00'), mode: 'in_person' });
    const id = booked.body.id as string;
    const key = idempotencyKey();
    const start = () => call(stack.url, 'POST', `/v1/consultations/${id}/start`, { token: c.doctorToken, headers: { 'idempotency-key': key } });
    // Not checked in yet: refused, and nothing was done under the key.
    expect((await start()).body.code).toBe('invalid_transition');
    expect((await post(c.staffToken, id, 'check-in')).body.status).toBe('checked_in');
    // The same request again, now allowed: it starts the consultation; a third is its repeat.
    expect((await start()).body.status).toBe('in_consultation');
    expect((await start()).body.status).toBe('in_consultation');
    expect(await outcomesLogged(id, 'consultation.start')).toEqual([['denied', 'invalid_transition'], ['success', null], ['success', true]]);
    expect(await stack.database.ownerDb('consultation_events').where({ consultation_id: id, type: 'start' })).toHaveLength(1);
    // The log can be filtered by the actions' own names (hyphens included).
    const filtered = await call(stack.url, 'GET', `/v1/audit-logs?action=consultation.check-in&target=${id}`, { token: c.adminToken });
    expect([filtered.status, filtered.body.items?.map((e: { action: string }) => e.action)]).toEqual([200, ['consultation.check-in']]);
  });

  it('retries a reschedule refused as slot_taken once the slot is free, and answers a done one after its slot began', async () => {
    const c = await bookingClinic(stack);
    const a = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('13:00'), mode: 'in_person' });
    const b = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('13:10'), mode: 'in_person' });
    const key = idempotencyKey();
    const move = () => call(stack.url, 'POST', `/v1/consultations/${a.body.id}/reschedule`, { token: c.staffToken, json: { startsAt: slot('13:10') }, headers: { 'idempotency-key': key } });
    // The workflow refuses it (the slot is taken): Temporal keeps that outcome under the update's id.
    expect((await move()).body.code).toBe('slot_taken');
    expect((await move()).body.code).toBe('slot_taken');
    expect((await post(c.staffToken, b.body.id, 'cancel', { reason: '都合により' })).body.status).toBe('cancelled');
    // Nothing was done under the key, so the same request now acts…
    expect((await move()).body).toMatchObject({ status: 'reserved', startsAt: slot('13:10') });
    // …and its repeat is answered from the done update, not checked again against the doctor's
    // hours as they are now (closed that day) nor storing anything.
    const closed = await call(stack.url, 'PUT', `/v1/practitioners/${c.practitionerId}/availability`, { token: c.adminToken, json: { rules: [] } });
    expect(closed.status).toBeLessThan(300);
    const repeat = await move();
    expect([repeat.status, repeat.body.startsAt]).toEqual([200, slot('13:10')]);
    expect(await outcomesLogged(a.body.id, 'consultation.reschedule')).toEqual([['denied', 'slot_taken'], ['denied', 'slot_taken'], ['success', null], ['success', true]]);
  });

  it('records each action under its update\'s id, so an update handed out again after a lost workflow task is not written twice', async () => {
    const c = await bookingClinic(stack);
    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('14:00'), mode: 'in_person' });
    const id = booked.body.id as string;
    const key = idempotencyKey();
    const answered = await call(stack.url, 'POST', `/v1/consultations/${id}/questionnaire`, { token: c.staffToken, json: { answers: { symptoms: '咳' } }, headers: { 'idempotency-key': key } });
    expect(answered.status).toBe(200);
    expect((await post(c.staffToken, id, 'check-in')).body.status).toBe('checked_in');
    const events = await stack.database.ownerDb('consultation_events').where({ consultation_id: id }).orderBy('id');
    // The keyed action's id is derived from the client's key; the other's is the API's own (the action and a UUID), also fixed per update.
    const updateId = `questionnaire:${createHash('sha256').update(key, 'utf8').digest('base64url')}`;
    expect(events.map((e: { type: string; eventKey: string }) => [e.type, e.eventKey])).toEqual([
      ['questionnaire', `update:${updateId}`],
      ['checkIn', expect.stringMatching(/^update:check-in:[0-9a-f-]{36}$/)],
    ]);
    // The questionnaire's step run again, as a replay of a lost workflow task would (its staged
    // content moved on the first run): nothing is written twice, nothing refused as content missing,
    // and the row takes the step's status (the replay's later steps set theirs in turn).
    const step = createConsultationActivities({ db: stack.database.db, vault: undefined as never, mailer: undefined as never });
    const again = await step.recordConsultation({
      tenantId: (await stack.database.ownerDb('consultations').where({ id }).first()).tenantId,
      consultationId: id, eventKey: `update:${updateId}`, type: 'questionnaire', status: 'reserved', patch: { sealedRefs: { questionnaire: '00000000-0000-4000-8000-000000000001' } },
    });
    expect(again).toBe(false);
    expect(await stack.database.ownerDb('consultation_events').where({ consultation_id: id })).toHaveLength(2);
    expect((await stack.database.ownerDb('consultations').where({ id }).first()).status).toBe('reserved');
  });

  it('writes nothing for an update the workflow refused, also when a burst of them races a cancel', async () => {
    // Under such a burst workflow tasks are dropped and handed out again; a step written from
    // inside a dropped task stayed for an update that was then refused (found by an attack run).
    const c = await bookingClinic(stack);
    for (let round = 0; round < 3; round += 1) {
      const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot(`15:${String(round * 10).padStart(2, '0')}`), mode: 'in_person' });
      const id = booked.body.id as string;
      /** One request, sent again with its key while the answer is 503 (bounded). */
      const send = async (action: string, json: unknown) => {
        const key = idempotencyKey();
        for (let i = 0; ; i += 1) {
          const r = await call(stack.url, 'POST', `/v1/consultations/${id}/${action}`, { token: c.staffToken, json, headers: { 'idempotency-key': key } });
          if (r.status !== 503 || i === 5) return r;
        }
      };
      const burst = Array.from({ length: 20 }, (_, j) => send('questionnaire', { answers: { j } }));
      const cancel = new Promise((resolve) => setImmediate(resolve)).then(() => send('cancel', { reason: '重複' }));
      const answers = await Promise.all(burst);
      expect((await cancel).body.status).toBe('cancelled');
      const accepted = answers.filter((a) => a.status === 200).map((a) => a.body.id);
      for (const a of answers) expect([200, 409]).toContain(a.status);
      const detail = await call(stack.url, 'GET', `/v1/consultations/${id}`, { token: c.staffToken });
      const types = detail.body.timeline.map((e: { type: string }) => e.type);
      // As many questionnaire steps as accepted requests, none after the cancel, and the row cancelled.
      expect(types.filter((t: string) => t === 'questionnaire')).toHaveLength(accepted.length);
      expect(types.at(-1)).toBe('cancel');
      expect(detail.body.status).toBe('cancelled');
    }
  });

  it('refuses a body member named __proto__ instead of losing it', async () => {
    const c = await bookingClinic(stack);
    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('13:30'), mode: 'in_person' });
    const r = await call(stack.url, 'POST', `/v1/consultations/${booked.body.id}/questionnaire`, { token: c.staffToken, raw: '{"answers":{"__proto__":{"allergy":"penicillin"}}}' });
    expect([r.status, r.body.code, r.body.errors]).toEqual([400, 'validation_failed', [{ field: 'answers.__proto__', message: 'is a name no field may have' }]]);
  });

  it('refuses text with half a surrogate pair instead of storing it as U+FFFD, in any field or member name', async () => {
    const c = await bookingClinic(stack);
    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('13:40'), mode: 'in_person' });
    const id = booked.body.id;
    // Valid JSON in valid UTF-8: the escapes decode to halves of a pair with no other half.
    const answers = await call(stack.url, 'POST', `/v1/consultations/${id}/questionnaire`, { token: c.staffToken, raw: '{"answers":{"bp":"120 \\ud83d","\\udc00k":"x"}}' });
    expect([answers.status, answers.body.code, answers.body.errors.map((e: { message: string }) => e.message)]).toEqual([
      400, 'validation_failed', ['must be valid Unicode (no unpaired surrogate)', 'must be valid Unicode (no unpaired surrogate)'],
    ]);
    const cancel = await call(stack.url, 'POST', `/v1/consultations/${id}/cancel`, { token: c.staffToken, raw: '{"reason":"BP \\ud83d high"}' });
    expect([cancel.status, cancel.body.errors]).toEqual([400, [{ field: 'reason', message: 'must be valid Unicode (no unpaired surrogate)' }]]);
    expect((await call(stack.url, 'GET', `/v1/consultations/${id}`, { token: c.staffToken })).body).toMatchObject({ status: 'reserved', questionnaire: null });
    // A whole pair is a character like any other.
    expect((await call(stack.url, 'POST', `/v1/consultations/${id}/questionnaire`, { token: c.staffToken, raw: '{"answers":{"mood":"\\ud83d\\ude00"}}' })).status).toBe(200);
    expect((await call(stack.url, 'GET', `/v1/consultations/${id}`, { token: c.staffToken })).body.questionnaire).toEqual({ mood: '😀' });
  });

  it('refuses a number beyond a double\'s range instead of storing it as null', async () => {
    const c = await bookingClinic(stack);
    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('13:35'), mode: 'in_person' });
    const r = await call(stack.url, 'POST', `/v1/consultations/${booked.body.id}/questionnaire`, { token: c.staffToken, raw: '{"answers":{"temperature":36.8,"a":1e999,"b":[-1e999]}}' });
    expect([r.status, r.body.code, r.body.errors.map((e: { field: string }) => e.field)]).toEqual([400, 'validation_failed', ['answers.a', 'answers.b.0']]);
    expect((await call(stack.url, 'GET', `/v1/consultations/${booked.body.id}`, { token: c.staffToken })).body.questionnaire).toBeNull();
    // The largest double still is one.
    expect((await post(c.staffToken, booked.body.id, 'questionnaire', { answers: { a: 1.7976931348623157e308 } })).status).toBe(200);
  });

  it('refuses a key reused for a reschedule or a booking to another time', async () => {
    const c = await bookingClinic(stack);
    const bookingKey = idempotencyKey();
    const body = { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('11:30'), mode: 'in_person' };
    const booked = await book(stack, c.staffToken, body, bookingKey);
    const id = booked.body.id as string;
    const key = idempotencyKey();
    const reschedule = (time: string) => call(stack.url, 'POST', `/v1/consultations/${id}/reschedule`, { token: c.staffToken, json: { startsAt: slot(time) }, headers: { 'idempotency-key': key } });
    expect((await reschedule('11:40')).body.startsAt).toBe(slot('11:40'));
    // The same key with another time is another request: refused, the booking stays where it was moved.
    const other = await reschedule('11:50');
    expect([other.status, other.body.code]).toEqual([409, 'idempotency_key_reused']);
    expect((await reschedule('11:40')).body.startsAt).toBe(slot('11:40'));
    // The booking's key still names the booking as first asked for (at 11:30), after the move…
    expect((await book(stack, c.staffToken, body, bookingKey)).body.id).toBe(id);
    // …and not a booking at another time.
    const elsewhere = await book(stack, c.staffToken, { ...body, startsAt: slot('12:00') }, bookingKey);
    expect([elsewhere.status, elsewhere.body.code]).toEqual([409, 'idempotency_key_reused']);
    expect((await stack.database.ownerDb('consultations').where({ id }).first()).startsAt.toISOString()).toBe(slot('11:40'));
  });

  it('lets a reschedule\'s key go when the request was refused, so a corrected request may use it', async () => {
    const c = await bookingClinic(stack);
    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('14:00'), mode: 'in_person' });
    const id = booked.body.id as string;
    await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('14:20'), mode: 'in_person' });
    const key = idempotencyKey();
    const reschedule = (startsAt: string) => call(stack.url, 'POST', `/v1/consultations/${id}/reschedule`, { token: c.staffToken, json: { startsAt }, headers: { 'idempotency-key': key } });
    // Refused by the rules before anything is sent: nothing bound the key.
    expect((await reschedule(slot('14:06'))).body.code).toBe('not_a_slot');
    expect((await reschedule(slotOn(-2, '14:00', clock))).body.code).toBe('slot_in_past');
    // Refused by the workflow (the doctor's 14:20 is taken): nothing was done, the key is let go.
    const taken = await reschedule(slot('14:20'));
    expect([taken.status, taken.body.code]).toEqual([409, 'slot_taken']);
    // The corrected request under the same key moves the visit, once.
    expect((await reschedule(slot('14:30'))).body.startsAt).toBe(slot('14:30'));
    expect((await reschedule(slot('14:30'))).body.startsAt).toBe(slot('14:30'));
    // From now on the key stands for that move: another time is refused, even one that was refused before.
    for (const other of [slot('14:40'), slot('14:20')]) {
      const r = await reschedule(other);
      expect([r.status, r.body.code]).toEqual([409, 'idempotency_key_reused']);
    }
    expect((await stack.database.ownerDb('consultations').where({ id }).first()).startsAt.toISOString()).toBe(slot('14:30'));
    const logged = (await stack.database.ownerDb('audit_events').where({ target_id: id, action: 'consultation.reschedule' }).orderBy('seq')).map(
      (e: { outcome: string; details: Record<string, unknown> | null }) => [e.outcome, e.details?.repeated ?? e.details?.code ?? null],
    );
    expect(logged).toEqual([
      ['denied', 'not_a_slot'],
      ['denied', 'slot_in_past'],
      ['denied', 'slot_taken'],
      ['success', null],
      ['success', true],
      ['denied', 'idempotency_key_reused'],
      ['denied', 'idempotency_key_reused'],
    ]);
  });

  it('answers a retry of a reschedule whose update ran unanswered with its success, though today\'s rules would refuse the move', async () => {
    const c = await bookingClinic(stack);
    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('15:00'), mode: 'in_person' });
    const id = booked.body.id as string;
    const key = idempotencyKey();
    const farther = slotOn(20, '15:00', clock);
    const reschedule = () => call(stack.url, 'POST', `/v1/consultations/${id}/reschedule`, { token: c.staffToken, json: { startsAt: farther }, headers: { 'idempotency-key': key } });
    expect((await reschedule()).body.startsAt).toBe(farther);
    // The API died after the workflow moved the visit and before it recorded the answer: the key
    // stands for this request, unanswered (as after a 503).
    expect(await stack.database.ownerDb('consultation_action_keys').where({ consultation_id: id }).update({ done_at: null, done_attempt: null })).toBe(1);
    // Meanwhile the clinic shortened its horizon: the same move asked today would be refused.
    expect((await call(stack.url, 'PUT', '/v1/settings/bookings', { token: c.adminToken, json: { horizonDays: 5 } })).status).toBe(200);
    const retried = await reschedule();
    expect([retried.status, retried.body.startsAt]).toEqual([200, farther]);
    // A new key with the same move is a new request, and today's rules refuse it.
    const fresh = await call(stack.url, 'POST', `/v1/consultations/${id}/reschedule`, { token: c.staffToken, json: { startsAt: farther }, headers: { 'idempotency-key': idempotencyKey() } });
    expect(fresh.body.code).toBe('beyond_booking_horizon');
    const logged = (await stack.database.ownerDb('audit_events').where({ target_id: id, action: 'consultation.reschedule' }).orderBy('seq')).map((e: { outcome: string; details: Record<string, unknown> | null }) => [e.outcome, e.details?.code ?? null]);
    expect(logged).toEqual([['success', null], ['denied', 'beyond_booking_horizon']]);
    expect((await stack.database.ownerDb('consultation_action_keys').where({ consultation_id: id }).first()).doneAttempt).toBe(0);
  });

  it('sends one reminder to a patient booked late, and validates bookings', async () => {
    const c = await bookingClinic(stack, { patientEmail: 'reminder-me@example.jp' });
    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('10:00'), mode: 'in_person' });
    expect(booked.status).toBe(201);
    await eventually('the reminder is sent', async () => (await delivered(booked.body.id)).length > 0);
    // Counted once the workflow has ended (cancelled here): nothing can send anything after that.
    expect((await post(c.staffToken, booked.body.id, 'cancel', { reason: 'テスト終了' })).body.status).toBe('cancelled');
    expect(await stack.temporal.client.workflow.getHandle(`consultation/${booked.body.id}`).result()).toEqual({ status: 'cancelled', outcome: 'ended' });
    // Of the two reminders already due at booking (20 and 10 days before), only the later one went out.
    expect(await delivered(booked.body.id)).toEqual(['before-864000s']);
    const mails = (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.destination.to[0] === 'reminder-me@example.jp');
    expect(mails).toHaveLength(1);
    expect(mails[0]!.body.text).not.toContain('山田');

    const bad = [
      [{ patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('10:06'), mode: 'in_person' }, 400, 'not_a_slot'],
      [{ patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('08:55'), mode: 'in_person' }, 400, 'not_a_slot'],
      [{ patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot('18:00'), mode: 'in_person' }, 400, 'not_a_slot'],
      [{ patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slotOn(-2, '10:00', clock), mode: 'in_person' }, 400, 'slot_in_past'],
      [{ patientId: '00000000-0000-4000-8000-000000000000', practitionerId: c.practitionerId, startsAt: slot('10:05'), mode: 'in_person' }, 404, 'not_found'],
      [{ patientId: c.patientId, practitionerId: c.practitionerId, startsAt: 'tomorrow', mode: 'in_person' }, 400, 'validation_failed'],
    ] as const;
    for (const [body, status, code] of bad) {
      const r = await book(stack, c.staffToken, body as Record<string, unknown>);
      expect([r.status, r.body.code]).toEqual([status, code]);
    }
  });

  it('answers 404 for another clinic\'s consultation, patient and practitioner', async () => {
    const a = await bookingClinic(stack);
    const b = await bookingClinic(stack);
    const theirs = await book(stack, b.staffToken, { patientId: b.patientId, practitionerId: b.practitionerId, startsAt: slot('10:00'), mode: 'in_person' });
    for (const [method, path] of [['GET', `/v1/consultations/${theirs.body.id}`], ['POST', `/v1/consultations/${theirs.body.id}/check-in`], ['GET', `/v1/patients/${b.patientId}`], ['GET', `/v1/practitioners/${b.practitionerId}`]] as const) {
      const r = await call(stack.url, method, path, { token: a.staffToken });
      expect([path, r.status]).toEqual([path, 404]);
    }
    const cross = await book(stack, a.staffToken, { patientId: b.patientId, practitionerId: a.practitionerId, startsAt: slot('10:00'), mode: 'in_person' });
    expect(cross.status).toBe(404);
  });
});

describe('patients and slots', () => {
  it('finds patients by name, kana prefix, birth date and number without storing names in clear', async () => {
    const c = await bookingClinic(stack);
    const find = async (q: string) => (await call(stack.url, 'GET', `/v1/patients?${q}`, { token: c.staffToken })).body.items.map((p: { id: string }) => p.id);
    expect(await find(`name=${encodeURIComponent('山田花子')}`)).toEqual([c.patientId]);
    expect(await find(`kana=${encodeURIComponent('やまだ')}`)).toEqual([c.patientId]);
    expect(await find(`kana=${encodeURIComponent('ﾔﾏ')}`)).toEqual([c.patientId]);
    expect(await find(`kana=${encodeURIComponent('タナカ')}`)).toEqual([]);
    expect(await find('birthDate=1985-06-15')).toEqual([c.patientId]);
    // A search page is opened with one key lookup (application/patients/patient-record.ts): every field comes back readable.
    const [found] = (await call(stack.url, 'GET', '/v1/patients?birthDate=1985-06-15', { token: c.staffToken })).body.items;
    expect(found).toMatchObject({ id: c.patientId, name: '山田 花子', kana: 'ヤマダ ハナコ', birthDate: '1985-06-15', phone: '090-1111-2222', email: null, address: null });
    const raw = JSON.stringify(await stack.database.ownerDb('patients').where({ id: c.patientId }));
    for (const s of ['山田', 'ヤマダ', 'やまだ', '1985-06-15', '090-1111-2222']) expect(raw).not.toContain(s);
    const read = await call(stack.url, 'GET', `/v1/audit-logs?action=patient.*`, { token: c.adminToken });
    expect(read.body.items.map((e: { action: string }) => e.action)).toEqual(expect.arrayContaining(['patient.create', 'patient.search']));
  });

  it('takes a patient number in any letter case as the same number: unique, found, trimmed; an empty number is refused, not a list of everyone', async () => {
    const c = await bookingClinic(stack);
    const register = (patientNumber: string) =>
      call(stack.url, 'POST', '/v1/patients', { token: c.staffToken, json: { name: '佐藤 一郎', kana: 'サトウ イチロウ', birthDate: '1970-01-01', patientNumber } });
    const first = await register('k-1001');
    expect([first.status, first.body.patientNumber]).toEqual([201, 'k-1001']);
    const twin = await register('K-1001');
    expect([twin.status, twin.body.code]).toEqual([409, 'patient_number_taken']);
    const other = await register('K-1002');
    expect((await call(stack.url, 'PATCH', `/v1/patients/${other.body.id}`, { token: c.staffToken, json: { patientNumber: 'k-1001' } })).body.code).toBe('patient_number_taken');
    const find = async (q: string) => (await call(stack.url, 'GET', `/v1/patients?${q}`, { token: c.staffToken })).body.items.map((p: { id: string }) => p.id);
    expect(await find('patientNumber=K-1001')).toEqual([first.body.id]);
    expect(await find('patientNumber=%20k-1001%20')).toEqual([first.body.id]);
    const empty = await call(stack.url, 'GET', '/v1/patients?patientNumber=', { token: c.staffToken });
    expect([empty.status, empty.body.code, empty.body.errors[0].field]).toEqual([400, 'validation_failed', 'patientNumber']);
  });

  it('logs concurrent reads in one clinic in group commits: every read has its entry, the chain verifies, and a read whose entry cannot be written shows nothing (503)', async () => {
    const c = await bookingClinic(stack);
    const searches = await Promise.all(Array.from({ length: 24 }, () => call(stack.url, 'GET', '/v1/patients?birthDate=1985-06-15', { token: c.staffToken })));
    expect(searches.map((r) => r.status)).toEqual(Array(24).fill(200));
    const reads = await Promise.all(Array.from({ length: 8 }, () => call(stack.url, 'GET', `/v1/patients/${c.patientId}`, { token: c.staffToken })));
    expect(reads.map((r) => [r.status, r.body.name])).toEqual(Array(8).fill([200, '山田 花子']));
    const entries = (await call(stack.url, 'GET', '/v1/audit-logs?action=patient.*&limit=100', { token: c.adminToken })).body.items as { action: string; target: { id: string | null }; details: { patientIds?: string[] } }[];
    expect(entries.filter((e) => e.action === 'patient.search' && e.details.patientIds?.[0] === c.patientId)).toHaveLength(24);
    expect(entries.filter((e) => e.action === 'patient.read' && e.target.id === c.patientId)).toHaveLength(8);
    expect((await call(stack.url, 'GET', '/v1/audit-logs/verify', { token: c.adminToken })).body).toMatchObject({ ok: true, firstBroken: null });

    // The log refuses this clinic's read entries (a real failure in PostgreSQL): the reads answer 503 and show no patient.
    const tenantId = c.clinic.id;
    await stack.database.ownerDb.raw(`
      create function test_refuse_reads() returns trigger language plpgsql as $$ begin raise exception 'test: log refused'; end $$;
      create trigger test_refuse_reads before insert on audit_events for each row
        when (new.tenant_id = '${tenantId}' and new.action in ('patient.search', 'patient.read')) execute function test_refuse_reads();
    `);
    try {
      for (const path of ['/v1/patients?birthDate=1985-06-15', `/v1/patients/${c.patientId}`]) {
        const refused = await call(stack.url, 'GET', path, { token: c.staffToken });
        expect([refused.status, refused.body.code, JSON.stringify(refused.body).includes('山田')]).toEqual([503, 'service_unavailable', false]);
        expect(refused.headers.get('retry-after')).toBeTruthy();
      }
      // Concurrent reads: the first writes its entry in its own transaction, the others in a group commit; all are refused.
      const together = await Promise.all(Array.from({ length: 6 }, () => call(stack.url, 'GET', `/v1/patients/${c.patientId}`, { token: c.staffToken })));
      expect(together.map((r) => [r.status, r.body.code, r.body.name])).toEqual(Array(6).fill([503, 'service_unavailable', undefined]));
    } finally {
      await stack.database.ownerDb.raw('drop trigger test_refuse_reads on audit_events; drop function test_refuse_reads();');
    }
    expect((await call(stack.url, 'GET', `/v1/patients/${c.patientId}`, { token: c.staffToken })).status).toBe(200);
  });

  it('computes free slots from weekly rules and exceptions, excluding booked ones', async () => {
    const c = await bookingClinic(stack);
    // 17:30–18:30 Japan time, three days ahead: the doctor's last six slots of that day.
    const from = slotOn(3, '17:30', clock);
    const to = new Date(Date.parse(from) + 60 * 60_000).toISOString();
    const before = (await call(stack.url, 'GET', `/v1/practitioners/${c.practitionerId}/slots?from=${from}&to=${to}`, { token: c.staffToken })).body.items;
    expect(before.map((s: { startsAt: string }) => s.startsAt)).toEqual(['17:30', '17:35', '17:40', '17:45', '17:50', '17:55'].map((t) => slotOn(3, t, clock)));
    await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: before[0].startsAt, mode: 'in_person' });
    const after = (await call(stack.url, 'GET', `/v1/practitioners/${c.practitionerId}/slots?from=${from}&to=${to}`, { token: c.staffToken })).body.items;
    expect(after.map((s: { startsAt: string }) => s.startsAt)).not.toContain(before[0].startsAt);
    expect(after).toHaveLength(before.length - 1);
    const reversed = await call(stack.url, 'GET', `/v1/practitioners/${c.practitionerId}/slots?from=${to}&to=${from}`, { token: c.staffToken });
    expect(reversed.body.code).toBe('invalid_range');
  });

  it('answers 400 validation_failed for dates that do not exist or years no clinic means, never 500 or another day', async () => {
    const c = await bookingClinic(stack);
    const refused = async (method: string, path: string, token: string, json?: unknown) => {
      const r = await call(stack.url, method, path, { token, json });
      return [path, json, r.status, r.body.code];
    };
    const slots = (from: string, to: string) => `/v1/practitioners/${c.practitionerId}/slots?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
    for (const [from, to] of [
      ['2026-02-30T00:00:00Z', '2026-03-02T00:00:00Z'],
      ['0000-01-01T00:00:00Z', '0000-01-02T00:00:00Z'],
      ['9999-12-30T00:00:00Z', '9999-12-31T00:00:00Z'],
      ['2026-03-01T09:00:00', '2026-03-02T09:00:00'],
    ]) {
      const path = slots(from!, to!);
      expect(await refused('GET', path, c.staffToken)).toEqual([path, undefined, 400, 'validation_failed']);
    }
    const availability = `/v1/practitioners/${c.practitionerId}/availability`;
    for (const date of ['2026-02-30', '2026-04-31', '0000-01-01', '9999-12-31']) {
      const json = { rules: [], exceptions: [{ date, kind: 'closed' }] };
      expect(await refused('PUT', availability, c.adminToken, json)).toEqual([availability, json, 400, 'validation_failed']);
    }
    for (const birthDate of ['1985-02-29', '0000-01-01', '9999-01-01']) {
      const json = { name: '日付 太郎', kana: 'ヒヅケ タロウ', birthDate };
      expect(await refused('POST', '/v1/patients', c.staffToken, json)).toEqual(['/v1/patients', json, 400, 'validation_failed']);
      expect(await refused('PATCH', `/v1/patients/${c.patientId}`, c.staffToken, { birthDate })).toEqual([`/v1/patients/${c.patientId}`, { birthDate }, 400, 'validation_failed']);
      expect(await refused('GET', `/v1/patients?birthDate=${birthDate}`, c.staffToken)).toEqual([`/v1/patients?birthDate=${birthDate}`, undefined, 400, 'validation_failed']);
    }
    // A real day is stored and answered as that very day.
    const saved = await call(stack.url, 'PUT', availability, { token: c.adminToken, json: { rules: [], exceptions: [{ date: '2028-02-29', kind: 'closed' }] } });
    expect([saved.status, saved.body.exceptions]).toEqual([200, [{ date: '2028-02-29', kind: 'closed', startTime: null, endTime: null }]]);
  });
});

describe('the booking horizon (予約受付期間)', () => {
  const settings = (token: string, json?: unknown) => call(stack.url, json === undefined ? 'GET' : 'PUT', '/v1/settings/bookings', { token, json });

  it('takes bookings up to the clinic\'s horizon: 365 days until an admin sets another, for bookings, reschedules and the slots offered', async () => {
    const c = await bookingClinic(stack);
    const at = (days: number, time: string) => ({ patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slotOn(days, time), mode: 'in_person' });
    // The default: a year ahead, readable by the desk, which books.
    expect((await settings(c.staffToken)).body).toEqual({ horizonDays: 365 });
    const decadesAhead = await book(stack, c.staffToken, at(400, '10:00'));
    expect([decadesAhead.status, decadesAhead.body.code, decadesAhead.body.horizonDays]).toEqual([400, 'beyond_booking_horizon', 365]);

    // Only an admin sets it, to whole days from 1 to 730.
    expect((await settings(c.staffToken, { horizonDays: 3 })).status).toBe(403);
    for (const bad of [{ horizonDays: 0 }, { horizonDays: 731 }, { horizonDays: 2.5 }, { horizonDays: '3' }, {}, { horizonDays: 3, extra: 1 }]) {
      const refused = await settings(c.adminToken, bad);
      expect([refused.status, refused.body.code]).toEqual([400, 'validation_failed']);
    }
    expect((await settings(c.adminToken, { horizonDays: 3 })).body).toEqual({ horizonDays: 3 });
    expect((await settings(c.staffToken)).body).toEqual({ horizonDays: 3 });
    const logged = await stack.database.ownerDb('audit_events').where({ action: 'settings.bookings' }).whereRaw('tenant_id = (select tenant_id from patients where id = ?)', [c.patientId]);
    expect(logged.map((e: { outcome: string; details: unknown }) => [e.outcome, e.details])).toEqual([['success', { before: { horizonDays: 365 }, after: { horizonDays: 3 } }]]);

    // The third day after today (Japan) is bookable to its last slot; two days past it is not
    // (a day's margin: the test's clock and the server's may fall either side of midnight in Japan).
    const lastDay = await book(stack, c.staffToken, at(3, '17:55'));
    expect(lastDay.status).toBe(201);
    const beyond = await book(stack, c.staffToken, at(5, '09:00'));
    expect([beyond.status, beyond.body.code]).toEqual([400, 'beyond_booking_horizon']);
    expect(Date.parse(beyond.body.bookableUntil)).toBeLessThanOrEqual(Date.parse(slotOn(5, '00:00')));
    expect(await outcomesLogged(lastDay.body.id, 'consultation.book')).toEqual([['success', null]]);

    // A reschedule obeys it too; within it the visit moves.
    const movedFar = await post(c.staffToken, lastDay.body.id, 'reschedule', { startsAt: slotOn(5, '10:00') });
    expect([movedFar.status, movedFar.body.code]).toEqual([400, 'beyond_booking_horizon']);
    expect((await post(c.staffToken, lastDay.body.id, 'reschedule', { startsAt: slotOn(3, '17:50') })).status).toBe(200);

    // The slots offered are the slots bookable: none past the horizon.
    const today = jstDate(new Date());
    const slots = await call(stack.url, 'GET', `/v1/practitioners/${c.practitionerId}/slots?from=${slotOn(3, '17:30')}&to=${slotOn(6, '12:00')}`, { token: c.staffToken });
    expect(slots.status).toBe(200);
    const starts: string[] = slots.body.items.map((s: { startsAt: string }) => s.startsAt);
    expect(starts).toEqual(expect.arrayContaining([slotOn(3, '17:55')]));
    expect(starts.filter((s) => s >= slotOn(5, '00:00'))).toEqual([]);
    // Unless midnight in Japan passed meanwhile, the fourth day is not offered either.
    if (jstDate(new Date()) === today) expect(starts.filter((s) => s >= slotOn(4, '00:00'))).toEqual([]);

    // A shorter horizon never cancels what is booked: the visit on the third day stays.
    expect((await settings(c.adminToken, { horizonDays: 1 })).status).toBe(200);
    expect((await call(stack.url, 'GET', `/v1/consultations/${lastDay.body.id}`, { token: c.staffToken })).body.status).toBe('reserved');
  });
});

describe('visits left open (GET /v1/consultations/outstanding)', () => {
  it('lists the visits begun before a date that have not ended, oldest first, a page at a time, for one doctor if asked', async () => {
    const c = await bookingClinic(stack);
    const at = (time: string) => ({ patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slot(time), mode: 'in_person' });
    const ids: Record<string, string> = {};
    for (const [name, time] of [['reserved', '09:00'], ['checkedIn', '09:05'], ['seen', '09:10'], ['unpaid', '09:15'], ['paid', '09:20'], ['cancelled', '09:25']] as const) {
      const booked = await book(stack, c.staffToken, at(time));
      expect(booked.status).toBe(201);
      ids[name] = booked.body.id;
    }
    // This stack's video room opens 7 days ahead and check-in with it, so the day after tomorrow's visits can be taken through their steps now.
    for (const id of [ids.checkedIn, ids.seen, ids.unpaid, ids.paid]) expect((await post(c.staffToken, id!, 'check-in')).status).toBe(200);
    for (const id of [ids.seen, ids.unpaid, ids.paid]) expect((await post(c.doctorToken, id!, 'start')).status).toBe(200);
    for (const id of [ids.unpaid, ids.paid]) expect((await post(c.doctorToken, id!, 'finish', { note: '経過良好', prescriptions: [] })).status).toBe(200);
    expect((await post(c.staffToken, ids.paid!, 'payment', { amount: 1500, method: 'cash' })).status).toBe(200);
    expect((await post(c.staffToken, ids.cancelled!, 'cancel', { reason: '本人都合' })).status).toBe(200);
    // The payment's completion is the workflow's next step, recorded right after it.
    await eventually('the paid visit completes', async () => (await call(stack.url, 'GET', `/v1/consultations/${ids.paid}`, { token: c.staffToken })).body.status === 'completed');

    // A reservation whose time has come: a doctor with hour-long slots all day, booked for the hour
    // running now (with under 5 s of it left, the booking could arrive after it: the next hour then,
    // not yet begun).
    const hourly = await call(stack.url, 'POST', '/v1/practitioners', { token: c.adminToken, json: { displayName: '当直医', slotMinutes: 60, rules: WALK_IN_RULES } });
    const hourMs = 3_600_000;
    const current = Math.floor(Date.now() / hourMs) * hourMs;
    const overdueStart = current + hourMs - Date.now() >= 5_000 ? current : current + hourMs;
    const overdue = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: hourly.body.id, startsAt: new Date(overdueStart).toISOString(), mode: 'in_person' });
    expect(overdue.status).toBe(201);
    const begun = overdueStart <= Date.now() ? [[overdue.body.id, 'reserved']] : [];

    const list = (query: string, token = c.staffToken) => call(stack.url, 'GET', `/v1/consultations/outstanding${query}`, { token });
    const dayAfter = jstDate(new Date(Date.parse(slot('09:00')) + 24 * 3_600_000));
    const shown = (page: { body: { items: Array<{ id: string; status: string }> } }) => page.body.items.map((v) => [v.id, v.status]);
    // Before today (the default) none of them: they lie ahead, or began today.
    expect((await list('')).body).toEqual({ items: [], nextCursor: null });
    // Before the day after theirs: those not ended, by start, two to a page. The reservation of the
    // day after tomorrow is a booking, not a visit left open: not listed.
    const expected = [...begun, [ids.checkedIn, 'checked_in'], [ids.seen, 'in_consultation'], [ids.unpaid, 'finished']];
    const first = await list(`?before=${dayAfter}&limit=2`);
    expect(first.status).toBe(200);
    const second = await list(`?before=${dayAfter}&limit=2&cursor=${first.body.nextCursor}`);
    expect([...shown(first), ...shown(second)]).toEqual(expected);
    expect(shown(first)).toHaveLength(2);
    expect(second.body.nextCursor).toBeNull();
    // Another doctor's list is empty; an auditor may not look; a forged cursor is refused.
    expect((await list(`?before=${dayAfter}&practitionerId=${randomUUID()}`)).body.items).toEqual([]);
    expect(shown(await list(`?before=${dayAfter}&practitionerId=${c.practitionerId}`))).toEqual(expected.slice(begun.length));
    expect([(await list('?cursor=bm90LWEtY3Vyc29y')).status, (await list('?cursor=bm90LWEtY3Vyc29y')).body.code]).toEqual([400, 'invalid_cursor']);
    expect((await list('?before=2026-02-30')).status).toBe(400);
    const auditor = await createAccount(stack, c.adminToken, 'auditor', ['auditor']);
    expect((await list('', await activate(stack, c.clinic, 'auditor', auditor.initialPassword))).status).toBe(403);
    // Another clinic sees none of them.
    const other = await bookingClinic(stack);
    expect((await list(`?before=${dayAfter}`, other.staffToken)).body.items).toEqual([]);
  });
});
