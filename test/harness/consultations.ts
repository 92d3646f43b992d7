import { call } from './http';
import { activate, clinicWithAdmin, createAccount } from './clinic';
import type { TestStack } from './stack';

/** A clinic ready to book: admin, a doctor account and practitioner open around the clock, a patient. */
export async function bookingClinic(stack: TestStack, opts: { patientEmail?: string } = {}) {
  const { clinic, token } = await clinicWithAdmin(stack, 'consult');
  const doctor = await createAccount(stack, token, 'dr.sato', ['doctor']);
  const doctorToken = await activate(stack, clinic, 'dr.sato', doctor.initialPassword);
  const staff = await createAccount(stack, token, 'desk', ['staff']);
  const staffToken = await activate(stack, clinic, 'desk', staff.initialPassword);
  const allDay = [0, 1, 2, 3, 4, 5, 6].map((weekday) => ({ weekday, startTime: '00:00', endTime: '23:55' }));
  const practitioner = await call(stack.url, 'POST', '/v1/practitioners', {
    token,
    json: { displayName: '佐藤 医師', accountId: doctor.accountId, slotMinutes: 5, rules: allDay },
  });
  if (practitioner.status !== 201) throw new Error(`practitioner: ${practitioner.text}`);
  const patient = await call(stack.url, 'POST', '/v1/patients', {
    token: staffToken,
    json: { name: '山田 花子', kana: 'ヤマダ ハナコ', birthDate: '1985-06-15', phone: '090-1111-2222', email: opts.patientEmail ?? null },
  });
  if (patient.status !== 201) throw new Error(`patient: ${patient.text}`);
  return { clinic, adminToken: token, doctorToken, staffToken, practitionerId: practitioner.body.id as string, patientId: patient.body.id as string };
}

/** The start of the 5-minute slot running now, or of a later one. */
export function slotStart(offsetSlots = 0): string {
  const slot = 5 * 60_000;
  return new Date(Math.floor(Date.now() / slot) * slot + offsetSlots * slot).toISOString();
}

let n = 0;
export const idempotencyKey = () => `test-${Date.now()}-${n++}-${Math.random().toString(36).slice(2, 8)}`;

export function book(stack: TestStack, token: string, body: Record<string, unknown>, key = idempotencyKey()) {
  return call(stack.url, 'POST', '/v1/consultations', { token, json: body, headers: { 'idempotency-key': key } });
}
