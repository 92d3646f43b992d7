import type { Rule } from '../../domain/availability';
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
 * A doctor open around the clock for walk-ins: 5-minute slots from midnight to midnight, so a slot
 * is running at every moment. (Overlapping windows are merged into one grid, so two grids offset
 * from each other cannot be had.)
 */
export const WALK_IN_RULES: Rule[] = WEEK.map((weekday) => ({ weekday, startTime: '00:00', endTime: '24:00' }));

/** A running slot is only picked with this much time left, so it has not ended by the time the booking arrives. */
export const WALK_IN_MARGIN_MS = 30_000;

/**
 * The WALK_IN_RULES slot running at `now` if it has at least WALK_IN_MARGIN_MS left (a walk-in:
 * bookable though it has begun); in the last WALK_IN_MARGIN_MS of a slot, the next one, which
 * starts within that time.
 */
export function runningSlot(now: Date = new Date()): string {
  const slotMs = SLOT_MINUTES * 60_000;
  // Slots of WALK_IN_RULES start on the 5-minute grid of the (whole-hour offset) Japanese day.
  const running = Math.floor(now.getTime() / slotMs) * slotMs;
  const startsAt = running + slotMs - now.getTime() >= WALK_IN_MARGIN_MS ? running : running + slotMs;
  return new Date(startsAt).toISOString();
}
