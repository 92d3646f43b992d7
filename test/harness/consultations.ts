import type { Rule } from '../../domain/availability';
import { addDays, japanDateOf, japanInstant } from '../../domain/japan-time';
import { call } from './http';
import { activate, clinicWithAdmin, createAccount, type ApiTarget } from './clinic';
import { CLINIC_RULES, SLOT_MINUTES } from './slots';
import type { TestStack } from './stack';

/**
 * A clinic ready to book: admin, a doctor account and practitioner (5-minute slots, 09:00–18:00
 * Japan time every day unless `rules` says otherwise), a patient. Pick its slots with
 * test/harness/slots.ts, never from "now plus so many slots".
 */
export async function bookingClinic(stack: ApiTarget, opts: { patientEmail?: string; rules?: Rule[] } = {}) {
  const { clinic, token, adminId } = await clinicWithAdmin(stack, 'consult');
  const doctor = await createAccount(stack, token, 'dr.sato', ['doctor']);
  const doctorToken = await activate(stack, clinic, 'dr.sato', doctor.initialPassword);
  const staff = await createAccount(stack, token, 'desk', ['staff']);
  const staffToken = await activate(stack, clinic, 'desk', staff.initialPassword);
  const practitioner = await call(stack.url, 'POST', '/v1/practitioners', {
    token,
    json: { displayName: '佐藤 医師', accountId: doctor.accountId, slotMinutes: SLOT_MINUTES, rules: opts.rules ?? CLINIC_RULES },
  });
  if (practitioner.status !== 201) throw new Error(`practitioner: ${practitioner.text}`);
  const patient = await call(stack.url, 'POST', '/v1/patients', {
    token: staffToken,
    json: { name: '山田 花子', kana: 'ヤマダ ハナコ', birthDate: '1985-06-15', phone: '090-1111-2222', email: opts.patientEmail ?? null },
  });
  if (patient.status !== 201) throw new Error(`patient: ${patient.text}`);
  return { clinic, adminToken: token, adminId, doctorToken, staffToken, staffId: staff.accountId, practitionerId: practitioner.body.id as string, patientId: patient.body.id as string };
}

let n = 0;
export const idempotencyKey = () => `test-${Date.now()}-${n++}-${Math.random().toString(36).slice(2, 8)}`;

export function book(stack: TestStack, token: string, body: Record<string, unknown>, key = idempotencyKey()) {
  return call(stack.url, 'POST', '/v1/consultations', { token, json: body, headers: { 'idempotency-key': key } });
}

/** The id a 201 answer created; anything else fails the setup with the answer. */
export async function created(reply: { status: number; text: string; body: any }, what: string): Promise<string> {
  if (reply.status !== 201) throw new Error(`${what}: ${reply.status} ${reply.text}`);
  return reply.body.id as string;
}

/** A process area with one file, a group and a booked consultation, for a clinic from bookingClinic. */
export async function furnishClinic(stack: TestStack, clinic: Awaited<ReturnType<typeof bookingClinic>>, label: string) {
  const { adminToken, staffToken, practitionerId, patientId } = clinic;
  const processId = await created(await call(stack.url, 'POST', '/v1/processes', { token: adminToken, json: { name: `${label} area` } }), 'process');
  const upload = await call(stack.url, 'POST', `/v1/processes/${processId}/files?name=note.txt`, { token: adminToken, raw: 'hello', headers: { 'content-type': 'text/plain' } });
  const fileId = await created(upload, 'file');
  const groupId = await created(await call(stack.url, 'POST', '/v1/groups', { token: adminToken, json: { name: `${label} group` } }), 'group');
  // Noon tomorrow in Japan: always a future slot of the doctor's day (00:00-23:55), whatever the time now.
  const startsAt = japanInstant(addDays(japanDateOf(new Date()), 1), 12 * 60).toISOString();
  const consultationId = await created(await book(stack, staffToken, { patientId, practitionerId, startsAt, mode: 'in_person' }), 'booking');
  return { processId, fileId, groupId, consultationId };
}
