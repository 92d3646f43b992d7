import { isOfferedSlot, type Rule } from '../../domain/availability';
import { japanDateOf as jstDate } from '../../domain/japan-time';

/**
 * Times for consultation tests that hold at any hour of the day. Pure functions of `now` (the
 * test's clock, the real one by default), unit-tested at the critical hours in
 * test/unit/test-slots.test.ts. No stack here: unit tests import this file.
 */
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const JST_OFFSET_MS = 9 * HOUR_MS;
const WEEK = [0, 1, 2, 3, 4, 5, 6];

/** The test clinic's doctor: 5-minute slots, 09:00–18:00 Japan time, every day of the week. */
export const SLOT_MINUTES = 5;
export const CLINIC_RULES: Rule[] = WEEK.map((weekday) => ({ weekday, startTime: '09:00', endTime: '18:00' }));

/**
 * The instant of `time` (HH:MM, Japan) on the Japanese date `days` after today's. Tests book
 * `slotOn(2, '10:00')`-like slots: the day after tomorrow in Japan, inside the clinic's hours,
 * whatever the hour now.
 */
export function slotOn(days: number, time: string, now: Date = new Date()): string {
  const today = Date.parse(`${jstDate(now)}T00:00:00Z`);
  const [h, m] = time.split(':').map(Number);
  return new Date(today + days * DAY_MS + (h! * 60 + m!) * 60_000 - JST_OFFSET_MS).toISOString();
}

/** How far ahead `slotOn(days, time)` lies at any hour: more than `minMs`, at most `maxMs`. */
export function leadTime(days: number, time: string): { minMs: number; maxMs: number } {
  const [h, m] = time.split(':').map(Number);
  const ofDay = (h! * 60 + m!) * 60_000;
  return { minMs: (days - 1) * DAY_MS + ofDay, maxMs: days * DAY_MS + ofDay };
}

/**
 * A doctor open around the clock for walk-ins: two 5-minute grids four minutes apart, so some slot
 * is running at every moment except 23:59–24:00 Japan time (the API's day ends at 23:59).
 */
export const WALK_IN_RULES: Rule[] = WEEK.flatMap((weekday) => [
  { weekday, startTime: '00:00', endTime: '23:59' },
  { weekday, startTime: '00:04', endTime: '23:59' },
]);

/** A running slot is only picked with this much time left, so it has not ended by the time the booking arrives. */
export const WALK_IN_MARGIN_MS = 30_000;

/**
 * The WALK_IN_RULES slot running at `now` with the most time left, at least WALK_IN_MARGIN_MS (a
 * walk-in: bookable though it has begun). In the last 90 seconds of the Japanese day, when no slot
 * has that long left, the slot starting at midnight Japan time instead.
 */
export function runningSlot(now: Date = new Date()): string {
  const minute = Math.floor(now.getTime() / 60_000) * 60_000;
  // Latest start first: the running slot with the most time left.
  for (let back = 0; back < SLOT_MINUTES; back += 1) {
    const startsAt = new Date(minute - back * 60_000);
    if (startsAt.getTime() + SLOT_MINUTES * 60_000 - now.getTime() < WALK_IN_MARGIN_MS) break;
    if (isOfferedSlot({ rules: WALK_IN_RULES, exceptions: [], slotMinutes: SLOT_MINUTES, startsAt })) return startsAt.toISOString();
  }
  return slotOn(1, '00:00', now);
}
