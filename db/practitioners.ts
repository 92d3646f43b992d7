import type { Availability, Exception, Rule } from '../domain/availability';
import { isUuid } from '../domain/ids';
import type { NameKeyset } from '../domain/pagination';
import { notFound } from '../domain/problems';
import { MAX_SLOT_MINUTES, type Practitioner } from '../domain/practitioner';
import { tenantIdOf, type TenantTransaction } from './tenant-scope';

/**
 * Doctors, their weekly rules and dated exceptions, and the starts of their live bookings. Every
 * function runs inside the clinic's withTenant() transaction; the slot rules are in
 * domain/availability.ts.
 */

// Still imported from here by application/consultations; the rule itself lives in domain/.

/**
 * A doctor with their weekly rules and dated exceptions as one row (the availability as JSON
 * arrays, already in the API's shapes), so reading a doctor is one round trip, not three.
 * `where` filters `practitioners p`; composed into other reads too (db/consultations.ts).
 */
export const practitionerSql = (where: string) => `
  select p.id, p.display_name, p.account_id, p.slot_minutes, p.modes,
    coalesce((select json_agg(json_build_object('weekday', r.weekday, 'startTime', to_char(r.start_time, 'HH24:MI'), 'endTime', to_char(r.end_time, 'HH24:MI'))
                              order by r.weekday, r.start_time)
                from availability_rules r where r.practitioner_id = p.id), '[]') as rules,
    -- A date read as text: pg would otherwise make it a Date at local midnight of the host.
    coalesce((select json_agg(json_build_object('date', to_char(e.date, 'YYYY-MM-DD'), 'kind', e.kind,
                                                'startTime', to_char(e.start_time, 'HH24:MI'), 'endTime', to_char(e.end_time, 'HH24:MI'))
                              order by e.date, e.start_time)
                from availability_exceptions e where e.practitioner_id = p.id), '[]') as exceptions
    from practitioners p where ${where}`;

/** A row of practitionerSql (raw rows keep their snake_case names). */
export interface PractitionerRecord {
  id: string;
  display_name: string;
  account_id: string | null;
  slot_minutes: number;
  modes: string[];
  rules: Rule[];
  exceptions: Exception[];
}

export const practitionerFrom = (r: PractitionerRecord): Practitioner => ({
  id: r.id,
  displayName: r.display_name,
  accountId: r.account_id,
  slotMinutes: r.slot_minutes,
  modes: r.modes,
  rules: r.rules,
  exceptions: r.exceptions,
});

/** The doctor with their availability, or 404. */
export async function getPractitioner(trx: TenantTransaction, id: string): Promise<Practitioner> {
  const { rows } = isUuid(id) ? await trx.raw(practitionerSql('p.id = ?'), [id]) : { rows: [] };
  if (!rows[0]) throw notFound('No such practitioner.');
  return practitionerFrom(rows[0] as PractitionerRecord);
}

/**
 * The clinic's doctors by name (then id: names repeat): all of them, or with a page up to its
 * limit after its keyset, and the keyset of the next page if there is one.
 */
export async function listPractitioners(trx: TenantTransaction, page?: { limit: number; after?: NameKeyset }): Promise<{ practitioners: Practitioner[]; next: NameKeyset | null }> {
  const after = page?.after ? ' and (p.display_name, p.id) > (?, ?::uuid)' : '';
  const bindings = [tenantIdOf(trx)!, ...(page?.after ? [page.after.name, page.after.id] : []), ...(page ? [page.limit + 1] : [])];
  const { rows } = await trx.raw(`${practitionerSql(`p.tenant_id = ?${after}`)} order by p.display_name, p.id${page ? ' limit ?' : ''}`, bindings);
  const found = (rows as PractitionerRecord[]).map(practitionerFrom);
  const kept = page ? found.slice(0, page.limit) : found;
  const next = page && found.length > page.limit ? { name: kept.at(-1)!.displayName, id: kept.at(-1)!.id } : null;
  return { practitioners: kept, next };
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

/**
 * The doctor's live consultations that overlap from..to: the one definition the free-slot listing
 * and the overlap check of bookings and reschedules share. None lasts longer than
 * MAX_SLOT_MINUTES, so the index on (practitioner, start) is read from that far before `from`,
 * not from the doctor's first booking ever.
 */
export const liveVisitsOverlapping = (trx: TenantTransaction, practitionerId: string, from: Date, to: Date) =>
  trx('consultations')
    .where({ practitioner_id: practitionerId })
    .whereNotIn('status', ['cancelled', 'no_show'])
    .where('starts_at', '>', new Date(from.getTime() - MAX_SLOT_MINUTES * 60_000))
    .where('starts_at', '<', to)
    .where('ends_at', '>', from);

/** The times of the doctor's live consultations that overlap from..to. */
export async function bookedTimes(trx: TenantTransaction, id: string, from: Date, to: Date): Promise<Array<{ startsAt: Date; endsAt: Date }>> {
  return liveVisitsOverlapping(trx, id, from, to).select('starts_at', 'ends_at');
}

/** Clears the account from the doctors it is linked to; answers their ids. */
export async function unlinkAccount(trx: TenantTransaction, accountId: string): Promise<string[]> {
  const rows: Array<{ id: string }> = await trx('practitioners').where({ account_id: accountId }).update({ account_id: null }).returning('id');
  return rows.map((r) => r.id);
}

export async function linkAccount(trx: TenantTransaction, id: string, accountId: string | null): Promise<void> {
  await trx('practitioners').where({ id }).update({ account_id: accountId });
}
