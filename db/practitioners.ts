import { freeSlots, isOfferedSlot, type Exception, type Rule, type Slot } from '../domain/availability';
import { badRequest, notFound } from '../domain/problems';
import { tenantIdOf, type TenantTransaction } from './tenant-scope';
import { isUuid } from '../domain/ids';

/** Doctors, their weekly availability and exceptions, and the free slots derived from them. */

export interface PractitionerView {
  id: string;
  displayName: string;
  accountId: string | null;
  slotMinutes: number;
  modes: string[];
  rules: Rule[];
  exceptions: Exception[];
}

export async function getPractitioner(trx: TenantTransaction, id: string): Promise<PractitionerView> {
  const row = isUuid(id) ? await trx('practitioners').where({ id }).first() : undefined;
  if (!row) throw notFound('No such practitioner.');
  const rules = await trx('availability_rules').where({ practitioner_id: id }).orderBy(['weekday', 'start_time']);
  const exceptions = await trx('availability_exceptions').where({ practitioner_id: id }).orderBy(['date', 'start_time']);
  return {
    id: row.id,
    displayName: row.displayName,
    accountId: row.accountId,
    slotMinutes: row.slotMinutes,
    modes: row.modes,
    rules: rules.map((r: { weekday: number; startTime: string; endTime: string }) => ({ weekday: r.weekday, startTime: r.startTime.slice(0, 5), endTime: r.endTime.slice(0, 5) })),
    exceptions: exceptions.map((e: { date: Date | string; kind: 'open' | 'closed'; startTime: string | null; endTime: string | null }) => ({
      date: typeof e.date === 'string' ? e.date : e.date.toISOString().slice(0, 10),
      kind: e.kind,
      startTime: e.startTime?.slice(0, 5) ?? null,
      endTime: e.endTime?.slice(0, 5) ?? null,
    })),
  };
}

export async function listPractitioners(trx: TenantTransaction): Promise<PractitionerView[]> {
  const rows = await trx('practitioners').where({ tenant_id: tenantIdOf(trx) }).orderBy('display_name');
  return Promise.all(rows.map((r: { id: string }) => getPractitioner(trx, r.id)));
}

export async function createPractitioner(
  trx: TenantTransaction,
  input: { displayName: string; accountId?: string; slotMinutes: number; modes: string[] },
): Promise<PractitionerView> {
  if (input.accountId) {
    const account = isUuid(input.accountId) ? await trx('accounts').where({ id: input.accountId }).whereNull('deleted_at').first() : undefined;
    if (!account) throw notFound('No such account.');
  }
  const [row] = await trx('practitioners')
    .insert({ tenant_id: tenantIdOf(trx), display_name: input.displayName, account_id: input.accountId ?? null, slot_minutes: input.slotMinutes, modes: input.modes })
    .returning('id');
  return getPractitioner(trx, row.id);
}

export async function setAvailability(trx: TenantTransaction, id: string, a: { rules: Rule[]; exceptions: Exception[] }): Promise<PractitionerView> {
  await getPractitioner(trx, id);
  const tenant_id = tenantIdOf(trx);
  await trx('availability_rules').where({ practitioner_id: id }).delete();
  await trx('availability_exceptions').where({ practitioner_id: id }).delete();
  if (a.rules.length) await trx('availability_rules').insert(a.rules.map((r) => ({ tenant_id, practitioner_id: id, weekday: r.weekday, start_time: r.startTime, end_time: r.endTime })));
  if (a.exceptions.length) {
    await trx('availability_exceptions').insert(a.exceptions.map((e) => ({ tenant_id, practitioner_id: id, date: e.date, kind: e.kind, start_time: e.startTime ?? null, end_time: e.endTime ?? null })));
  }
  return getPractitioner(trx, id);
}

export async function slotsOf(trx: TenantTransaction, id: string, from: Date, to: Date): Promise<Slot[]> {
  const p = await getPractitioner(trx, id);
  const booked = await trx('consultations')
    .where({ practitioner_id: id })
    .whereNotIn('status', ['cancelled', 'no_show'])
    .whereBetween('starts_at', [from, to]);
  return freeSlots({ rules: p.rules, exceptions: p.exceptions, booked: new Set(booked.map((b: { startsAt: Date }) => b.startsAt.toISOString())), from, to, slotMinutes: p.slotMinutes, now: new Date() });
}

export function assertOffered(practitioner: PractitionerView, startsAt: Date, mode: string): void {
  if (!practitioner.modes.includes(mode)) throw badRequest('mode_not_offered', `This practitioner does not offer ${mode} consultations.`);
  if (!isOfferedSlot({ rules: practitioner.rules, exceptions: practitioner.exceptions, slotMinutes: practitioner.slotMinutes, startsAt })) {
    throw badRequest('not_a_slot', 'The practitioner does not offer a slot starting at that time.');
  }
}
