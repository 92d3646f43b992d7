import { z } from 'zod';
import { SUPPORTED_YEARS, addDays, japanDateOf, japanDayRange } from './japan-time';
import { badRequest } from './problems';

/**
 * How far ahead a clinic takes bookings (予約受付期間), a clinic setting: slots of today and of
 * the next `horizonDays` Japanese calendar days, whatever the hour of the request (a clinic that
 * says "up to 90 days ahead" means the whole 90th day, not the 90th day until the current time).
 * Without it a visit could be booked for 2099, and its workflow would wait there for decades.
 * Reschedules obey it too, and the free-slot listing offers nothing beyond it.
 */
export const BOOKING_HORIZON_DAYS = { min: 1, max: 730, default: 365 } as const;

export const bookingSettingsSchema = z
  .strictObject({
    horizonDays: z
      .number()
      .int()
      .min(BOOKING_HORIZON_DAYS.min)
      .max(BOOKING_HORIZON_DAYS.max)
      .describe(`Bookable days after today (Japan), ${BOOKING_HORIZON_DAYS.min}–${BOOKING_HORIZON_DAYS.max}; ${BOOKING_HORIZON_DAYS.default} until saved`),
  })
  .meta({ id: 'BookingSettings' });
export type BookingSettings = z.infer<typeof bookingSettingsSchema>;

/** The first instant that is no longer bookable: midnight (Japan) after the last bookable day. */
export function bookingHorizonEnd(now: Date, horizonDays: number): Date {
  const lastDay = addDays(japanDateOf(now), horizonDays);
  // Schedules end with the supported years (domain/japan-time.ts): a horizon reaching past them stops there.
  const lastSupported = `${SUPPORTED_YEARS.max}-12-31`;
  return japanDayRange(lastDay > lastSupported ? lastSupported : lastDay).end;
}

/** Refuses a slot that starts beyond the clinic's horizon (400 beyond_booking_horizon). */
export function assertWithinHorizon(startsAt: Date, now: Date, horizonDays: number): void {
  const end = bookingHorizonEnd(now, horizonDays);
  if (startsAt.getTime() >= end.getTime()) {
    throw badRequest(
      'beyond_booking_horizon',
      `This clinic takes bookings up to ${horizonDays} day${horizonDays === 1 ? '' : 's'} ahead: the slot must start before ${end.toISOString()}.`,
      { horizonDays, bookableUntil: end.toISOString() },
    );
  }
}
