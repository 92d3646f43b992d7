import { bookedTimes, getPractitioner as findPractitioner, listPractitioners as allPractitioners } from '../../db/practitioners';
import { bookingHorizonDays } from '../../db/settings';
import { withTenant } from '../../db/tenant-scope';
import { bookingHorizonEnd } from '../../domain/booking-horizon';
import { assertSlotRange, freeSlots, type Slot } from '../../domain/availability';
import { decodeNameCursor, encodeNameCursor } from '../../domain/pagination';
import type { Practitioner } from '../../domain/practitioner';
import type { ClinicActor, Services } from '../deps';

/** The clinic's doctors by name: all of them, or with a limit one page and the cursor of the next. */
export async function listPractitioners(
  deps: Pick<Services, 'db'>,
  actor: ClinicActor,
  page: { limit?: number; cursor?: string } = {},
): Promise<{ items: Practitioner[]; nextCursor: string | null }> {
  const after = decodeNameCursor(page.cursor);
  const { practitioners, next } = await withTenant(deps.db, actor.tenantId, (trx) => allPractitioners(trx, page.limit === undefined ? undefined : { limit: page.limit, after }));
  return { items: practitioners, nextCursor: next && encodeNameCursor(next) };
}

export function getPractitioner(deps: Pick<Services, 'db'>, actor: ClinicActor, id: string): Promise<Practitioner> {
  return withTenant(deps.db, actor.tenantId, (trx) => findPractitioner(trx, id));
}

/**
 * A doctor's free slots between from and to, computed on demand from availability and live
 * bookings; slots that have begun by `now`, or start past the clinic's booking horizon, are not offered.
 */
export async function listFreeSlots(
  deps: Pick<Services, 'db'>,
  actor: ClinicActor,
  id: string,
  range: { from: Date; to: Date },
  now: Date = new Date(),
): Promise<Slot[]> {
  const { from, to } = range;
  assertSlotRange(from, to);
  const { practitioner, booked, horizonDays } = await withTenant(deps.db, actor.tenantId, async (trx) => {
    const practitioner = await findPractitioner(trx, id);
    return { practitioner, booked: await bookedTimes(trx, id, from, to), horizonDays: await bookingHorizonDays(trx) };
  });
  const slots = freeSlots({ rules: practitioner.rules, exceptions: practitioner.exceptions, slotMinutes: practitioner.slotMinutes, booked, from, to, now });
  // Offered means bookable: nothing past the clinic's booking horizon.
  const horizonEnd = bookingHorizonEnd(now, horizonDays).getTime();
  return slots.filter((s) => Date.parse(s.startsAt) < horizonEnd);
}
