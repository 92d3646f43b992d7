import { jwtVerify } from 'jose';
import { questionnaireUpdate } from '../../workflows/consultation-messages';
import { call } from '../harness/http';
import { activate, createAccount } from '../harness/clinic';
import { book, bookingClinic } from '../harness/consultations';
import { slotOn } from '../harness/slots';
import { startTestStack, type TestStack } from '../harness/stack';

const VIDEO_SECRET = 'r'.repeat(48);
let stack: TestStack;
beforeAll(async () => {
  // Slots are two Japanese days ahead (test/harness/slots.ts): a 7-day join window is open for them at any hour.
  stack = await startTestStack({ JOIN_WINDOW_BEFORE_SECONDS: String(7 * 86_400), NO_SHOW_AFTER_SECONDS: '3600', VIDEO_TOKEN_SECRET: VIDEO_SECRET });
});
afterAll(async () => {
  await stack?.stop();
});

const post = (token: string, id: string, action: string, json?: unknown) => call(stack.url, 'POST', `/v1/consultations/${id}/${action}`, { token, json });
const history = async (workflowId: string) => JSON.stringify(await stack.temporal.client.workflow.getHandle(workflowId).fetchHistory());

describe('who may act on a consultation', () => {
  it('only the doctor it is booked with starts and finishes it and joins as the practitioner; the side is the server\'s choice', async () => {
    const c = await bookingClinic(stack);
    const other = await createAccount(stack, c.adminToken, 'dr.other', ['doctor']);
    const otherDoctor = await activate(stack, c.clinic, 'dr.other', other.initialPassword);
    const online = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slotOn(2, '10:10'), mode: 'online' });
    const id = online.body.id;

    // The desk gets the patient's ticket whatever it asks for, and is refused the practitioner's side.
    const desk = await post(c.staffToken, id, 'join');
    expect(desk.status).toBe(200);
    expect((await jwtVerify(desk.body.token, new TextEncoder().encode(VIDEO_SECRET))).payload.role).toBe('patient');
    expect((await post(c.staffToken, id, 'join', { role: 'practitioner' })).body.code).toBe('not_assigned_practitioner');
    expect((await post(c.adminToken, id, 'join', { role: 'practitioner' })).status).toBe(403);
    // Another doctor of the same clinic is not this consultation's doctor.
    expect((await post(otherDoctor, id, 'join', { role: 'practitioner' })).status).toBe(403);
    expect((await post(otherDoctor, id, 'start')).body.code).toBe('not_assigned_practitioner');
    // Its own doctor joins as the practitioner (asking or not) and starts it.
    const own = await post(c.doctorToken, id, 'join');
    expect((await jwtVerify(own.body.token, new TextEncoder().encode(VIDEO_SECRET))).payload.role).toBe('practitioner');
    expect((await post(c.doctorToken, id, 'start')).body.status).toBe('in_consultation');
    expect((await post(otherDoctor, id, 'finish', { note: 'not mine', prescriptions: [] })).status).toBe(403);
    expect((await post(c.doctorToken, id, 'finish', { note: 'mine', prescriptions: [] })).body.status).toBe('finished');
  });

  it('lets an admin reassign a doctor\'s schedule to another doctor account, who then runs its consultations', async () => {
    const c = await bookingClinic(stack);
    const other = await createAccount(stack, c.adminToken, 'dr.next', ['doctor']);
    const nextDoctor = await activate(stack, c.clinic, 'dr.next', other.initialPassword);
    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slotOn(2, '10:30'), mode: 'in_person' });
    expect((await post(c.staffToken, booked.body.id, 'check-in')).status).toBe(200);
    const assign = (token: string, accountId: string | null) => call(stack.url, 'PUT', `/v1/practitioners/${c.practitionerId}/account`, { token, json: { accountId } });
    expect((await assign(c.staffToken, other.accountId)).status).toBe(403);
        const staff = await createAccount(stack, c.adminToken, 'desk2', ['staff']);
    expect((await assign(c.adminToken, staff.accountId)).body.code).toBe('not_a_doctor');
    expect((await assign(c.adminToken, other.accountId)).body.accountId).toBe(other.accountId);
    expect((await post(c.doctorToken, booked.body.id, 'start')).status).toBe(403);
    expect((await post(nextDoctor, booked.body.id, 'start')).body.status).toBe('in_consultation');
  });
});

describe('clinical content never enters workflow history', () => {
  it('passes a large questionnaire by reference: history holds an id, the row holds the ciphertext, staging rows are gone', async () => {
    const c = await bookingClinic(stack);
    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slotOn(2, '10:15'), mode: 'in_person' });
    const answers = { symptoms: '頭痛と発熱'.repeat(20_000) }; // ~300 KB of UTF-8
    const done = await post(c.staffToken, booked.body.id, 'questionnaire', { answers });
    expect(done.status).toBe(200);
    const h = await history(booked.body.workflowId);
    expect(h.length).toBeLessThan(64 * 1024);
    expect(h).not.toContain('頭痛');
    const row = await stack.database.ownerDb('consultations').where({ id: booked.body.id }).first();
    expect(row.questionnaireSealed.length).toBeGreaterThan(300_000);
    expect(await stack.database.ownerDb('consultation_payloads').where({ consultation_id: booked.body.id })).toEqual([]);
    const read = await call(stack.url, 'GET', `/v1/consultations/${booked.body.id}`, { token: c.staffToken });
    expect(read.body.questionnaire).toEqual(answers);
  });

  it('deletes the staged content of a refused action', async () => {
    const c = await bookingClinic(stack);
    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slotOn(2, '10:20'), mode: 'in_person' });
    expect((await post(c.staffToken, booked.body.id, 'cancel', { reason: 'patient called' })).status).toBe(200);
    expect((await post(c.staffToken, booked.body.id, 'cancel', { reason: 'again' })).body.code).toBe('invalid_transition');
    expect(await stack.database.ownerDb('consultation_payloads').where({ consultation_id: booked.body.id })).toEqual([]);
  });

  it('refuses update arguments that carry content inline or are oversized before they reach history', async () => {
    const c = await bookingClinic(stack);
    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slotOn(2, '10:25'), mode: 'in_person' });
    const handle = stack.temporal.client.workflow.getHandle(booked.body.workflowId);
    await expect(handle.executeUpdate(questionnaireUpdate, { args: [{ answersSealed: 'x'.repeat(200_000) }] })).rejects.toMatchObject({
      cause: { type: 'InvalidArguments' },
    });
    await expect(handle.executeUpdate(questionnaireUpdate, { args: [{ answersRef: 'not-a-uuid' }] })).rejects.toMatchObject({ cause: { type: 'InvalidArguments' } });
    const h = await history(booked.body.workflowId);
    expect(h).not.toContain('xxxxxxxxxx');
    expect(h.length).toBeLessThan(64 * 1024);
  });
});
