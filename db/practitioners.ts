import type { Availability, Exception, Rule } from '../domain/availability';
import { isUuid } from '../domain/ids';
import { notFound } from '../domain/problems';
import type { Practitioner } from '../domain/practitioner';
import { tenantIdOf, type TenantTransaction } from './tenant-scope';

/**
 * Doctors, their weekly rules and dated exceptions, and the starts of their live bookings. Every
 * function runs inside the clinic's withTenant() transaction; the slot rules are in
 * domain/availability.ts.
 */

// Still imported from here by application/consultations; the rule itself lives in domain/.

interface PractitionerRow {
  id: string;
  displayName: string;
  accountId: string | null;
  slotMinutes: number;
  modes: string[];
}

const hhmm = (t: string) => t.slice(0, 5);

async function withAvailability(trx: TenantTransaction, rows: PractitionerRow[]): Promise<Practitioner[]> {
  if (!rows.length) return [];
  const ids = rows.map((r) => r.id);
  const rules: Array<Rule & { practitionerId: string }> = await trx('availability_rules')
    .whereIn('practitioner_id', ids)
    .orderBy(['weekday', 'start_time'])
    .select('practitioner_id', 'weekday', 'start_time', 'end_time');
  // A date column read as text: pg would otherwise make it a Date at local midnight of the host.
  const exceptions: Array<Exception & { practitionerId: string }> = await trx('availability_exceptions')
    .whereIn('practitioner_id', ids)
    .orderBy(['date', 'start_time'])
    .select('practitioner_id', trx.raw(`to_char(date, 'YYYY-MM-DD') as date`), 'kind', 'start_time', 'end_time');
  return rows.map((row) => ({
    id: row.id,
    displayName: row.displayName,
    accountId: row.accountId,
    slotMinutes: row.slotMinutes,
    modes: row.modes,
    rules: rules.filter((r) => r.practitionerId === row.id).map((r) => ({ weekday: r.weekday, startTime: hhmm(r.startTime), endTime: hhmm(r.endTime) })),
    exceptions: exceptions
      .filter((e) => e.practitionerId === row.id)
      .map((e) => ({ date: e.date, kind: e.kind, startTime: e.startTime ? hhmm(e.startTime) : null, endTime: e.endTime ? hhmm(e.endTime) : null })),
  }));
}

/** The doctor with their availability, or 404. */
export async function getPractitioner(trx: TenantTransaction, id: string): Promise<Practitioner> {
  const row = isUuid(id) ? await trx('practitioners').where({ id }).first() : undefined;
  if (!row) throw notFound('No such practitioner.');
  return (await withAvailability(trx, [row]))[0]!;
}

export async function listPractitioners(trx: TenantTransaction): Promise<Practitioner[]> {
  return withAvailability(trx, await trx('practitioners').where({ tenant_id: tenantIdOf(trx) }).orderBy(['display_name', 'id']));
}

export async function insertPractitioner(
  trx: TenantTransaction,
  input: { displayName: string; accountId?: string; slotMinutes: number; modes: string[] },
): Promise<string> {
  const [row] = await trx('practitioners')
    .insert({ tenant_id: tenantIdOf(trx), display_name: input.displayName, account_id: input.accountId ?? null, slot_minutes: input.slotMinutes, modes: input.modes })
    .returning('id');
  return row.id;
}

/** Replaces all weekly rules and dated exceptions of the doctor. */
export async function replaceAvailability(trx: TenantTransaction, id: string, a: Pick<Availability, 'rules' | 'exceptions'>): Promise<void> {
  const tenant_id = tenantIdOf(trx);
  await trx('availability_rules').where({ practitioner_id: id }).delete();
  await trx('availability_exceptions').where({ practitioner_id: id }).delete();
  if (a.rules.length) await trx('availability_rules').insert(a.rules.map((r) => ({ tenant_id, practitioner_id: id, weekday: r.weekday, start_time: r.startTime, end_time: r.endTime })));
  if (a.exceptions.length) {
    await trx('availability_exceptions').insert(a.exceptions.map((e) => ({ tenant_id, practitioner_id: id, date: e.date, kind: e.kind, start_time: e.startTime ?? null, end_time: e.endTime ?? null })));
  }
}

/** Starts (ISO, UTC) of the doctor's live consultations between from and to. */
export async function bookedStarts(trx: TenantTransaction, id: string, from: Date, to: Date): Promise<string[]> {
  const rows: Array<{ startsAt: Date }> = await trx('consultations')
    .where({ practitioner_id: id })
    .whereNotIn('status', ['cancelled', 'no_show'])
    .whereBetween('starts_at', [from, to])
    .select('starts_at');
  return rows.map((r) => r.startsAt.toISOString());
}

export async function linkAccount(trx: TenantTransaction, id: string, accountId: string | null): Promise<void> {
  await trx('practitioners').where({ id }).update({ account_id: accountId });
}
