import { recordAudit } from '../../db/audit';
import { bookingHorizonDays, lockSettings, saveBookingHorizon } from '../../db/settings';
import { withTenant } from '../../db/tenant-scope';
import type { BookingSettings } from '../../domain/booking-horizon';
import type { ClinicActor, Services } from '../deps';

/**
 * An admin sets how many days ahead the clinic takes bookings; the log keeps before and after.
 * Visits already booked beyond a shortened horizon stay booked (the clinic moves or cancels
 * them): the horizon limits new bookings and reschedules, it never cancels anything by itself.
 */
export async function saveBookingSettings(deps: Pick<Services, 'db'>, actor: ClinicActor, settings: BookingSettings): Promise<BookingSettings> {
  return withTenant(deps.db, actor.tenantId, async (trx) => {
    await lockSettings(trx);
    const before = await bookingHorizonDays(trx);
    await saveBookingHorizon(trx, settings.horizonDays);
    await recordAudit(trx, actor.audit, { action: 'settings.bookings', outcome: 'success', details: { before: { horizonDays: before }, after: settings } });
    return settings;
  });
}
