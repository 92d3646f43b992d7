import { z } from 'zod';
import { scheduleDate } from './dates';
import { badRequest } from './problems';

/**
 * Free slots, computed on demand from weekly rules and dated exceptions (nothing is
 * pre-created). Rules are wall-clock times in Japan (domain/japan-time.ts converts them); slots
 * come out as UTC instants.
 */
import { addDays, japanDateOf, japanInstant, japanWallClock, weekdayOf } from './japan-time';

export interface Rule {
  weekday: number; // 0 = Sunday, in Japan
  startTime: string; // HH:MM[:SS]
  endTime: string;
}

export interface Exception {
  date: string; // YYYY-MM-DD in Japan
  kind: 'closed' | 'open';
  startTime?: string | null;
  endTime?: string | null;
}

export interface Slot {
  startsAt: string;
  endsAt: string;
}

const minutes = (t: string) => {
  const [h, m] = t.split(':').map(Number);
  return h! * 60 + m!;
};

const time = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (Japan time)');
/** A window may end at 24:00, the midnight that ends its day: a doctor working until midnight offers the last slot too. */
const endTime = z.string().regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, 'must be HH:MM (Japan time), or 24:00 for the end of the day');
export const ruleSchema = z
  .strictObject({ weekday: z.number().int().min(0).max(6), startTime: time, endTime })
  .refine((r) => r.endTime > r.startTime, 'endTime must be after startTime');
const exceptionSchema = z
  .strictObject({ date: scheduleDate, kind: z.enum(['closed', 'open']), startTime: time.nullable().optional(), endTime: endTime.nullable().optional() })
  .refine((e) => (e.kind === 'closed' ? !e.startTime && !e.endTime : Boolean(e.startTime && e.endTime && e.endTime > e.startTime)), 'a closed day has no times; an open one needs startTime < endTime');

/** Weekly rules: at most 100. Windows of one day that overlap are merged (windowsOn). */
export const rulesSchema = z.array(ruleSchema).max(100);

/** What PUT /v1/practitioners/:id/availability replaces: all weekly rules and all dated exceptions. */
export const availabilitySchema = z.strictObject({ rules: rulesSchema, exceptions: z.array(exceptionSchema).max(400).default([]) });
export type Availability = z.output<typeof availabilitySchema>;

const DAY_MS = 86_400_000;
/** Slots are listed for at most this many days per request. */
const MAX_SLOT_RANGE_DAYS = 31;

export function assertSlotRange(from: Date, to: Date): void {
  if (from > to) throw badRequest('invalid_range', '"from" is after "to".');
  if (to.getTime() - from.getTime() > MAX_SLOT_RANGE_DAYS * DAY_MS) throw badRequest('range_too_large', `Ask for at most ${MAX_SLOT_RANGE_DAYS} days at a time.`);
}

export function freeSlots(opts: {
  rules: Rule[];
  exceptions: Exception[];
  /** Live consultations: a slot that overlaps one is not free (a booking need not sit on today's grid). */
  booked: ReadonlyArray<{ startsAt: Date; endsAt: Date }>;
  from: Date;
  to: Date;
  slotMinutes: number;
  now: Date;
}): Slot[] {
  // Starts as numbers: overlapping windows give the same start twice, and numbers dedupe and sort
  // in a fraction of what ISO strings and localeCompare took (a month of 5-minute slots is ~9,000).
  const slotMs = opts.slotMinutes * 60_000;
  const starts = new Set<number>();
  const lastDate = japanDateOf(opts.to);
  for (let date = japanDateOf(opts.from); date <= lastDate; date = addDays(date, 1)) {
    const windows = windowsOn(date, opts.rules, opts.exceptions);
    if (windows.length === 0) continue;
    const at = wallClockOf(date);
    for (const w of windows) {
      for (let m = minutes(w.startTime); m + opts.slotMinutes <= minutes(w.endTime); m += opts.slotMinutes) {
        const start = at(m);
        if (start < opts.from.getTime() || start + slotMs > opts.to.getTime() || start < opts.now.getTime()) continue;
        starts.add(start);
      }
    }
  }
  // A slot is taken when a booking starts before it ends and ends after it starts. Slots come in
  // order, so the bookings starting before each slot's end only grow: the latest end among them
  // says whether one reaches into the slot (one pass, whatever the bookings' grid).
  const booked = opts.booked.map((b) => ({ start: b.startsAt.getTime(), end: b.endsAt.getTime() })).sort((a, b) => a.start - b.start);
  let next = 0;
  let latestEnd = -Infinity;
  const out: Slot[] = [];
  for (const start of [...starts].sort((a, b) => a - b)) {
    const end = start + slotMs;
    while (next < booked.length && booked[next]!.start < end) latestEnd = Math.max(latestEnd, booked[next++]!.end);
    if (latestEnd <= start) out.push({ startsAt: new Date(start).toISOString(), endsAt: new Date(end).toISOString() });
  }
  return out;
}

/**
 * The opening windows of a Japanese calendar day: none if it is closed, else its weekday's rules
 * and its open exceptions, with those that overlap merged into one. Each window lays its grid of
 * slots from its start, so 09:00–12:00 beside 09:05–12:00 (or an open hour across the weekly ones)
 * offered 09:00 and 09:05: two slots of which only one can be booked. Merged, they are one window
 * and one grid. Windows that only touch (09:00–12:00, 12:00–15:00) stay apart: the afternoon's
 * grid starts at 12:00 as its hours say.
 */
function windowsOn(date: string, rules: Rule[], exceptions: Exception[]): { startTime: string; endTime: string }[] {
  const dayExceptions = exceptions.filter((e) => e.date === date);
  if (dayExceptions.some((e) => e.kind === 'closed')) return [];
  const weekday = weekdayOf(date);
  const windows = [
    ...rules.filter((r) => r.weekday === weekday),
    ...dayExceptions.filter((e) => e.kind === 'open').map((e) => ({ startTime: e.startTime!, endTime: e.endTime! })),
  ];
  if (windows.length < 2) return windows;
  const merged: { startTime: string; endTime: string }[] = [];
  for (const w of [...windows].sort((a, b) => (a.startTime < b.startTime ? -1 : a.startTime > b.startTime ? 1 : 0))) {
    const last = merged[merged.length - 1];
    if (last && w.startTime < last.endTime) last.endTime = w.endTime > last.endTime ? w.endTime : last.endTime;
    else merged.push({ startTime: w.startTime, endTime: w.endTime });
  }
  return merged;
}

/**
 * Minutes past midnight of `date` → the instant (ms). A day whose length is 24 hours has no
 * change of offset in it, so its instants are its midnight plus the minutes: two zone lookups per
 * day instead of two per slot (a month of 5-minute slots is ~9,000 slots). Any other day asks
 * the zone for every slot.
 */
function wallClockOf(date: string): (m: number) => number {
  const midnight = japanInstant(date, 0).getTime();
  if (japanInstant(date, 24 * 60).getTime() - midnight === DAY_MS) return (m) => midnight + m * 60_000;
  return (m) => japanInstant(date, m).getTime();
}

/**
 * Is `startsAt` the start of a slot the practitioner offers (ignoring bookings and the present)?
 * Decided from the wall clock at `startsAt` alone (its Japanese day, the minute on the grid of one
 * of that day's windows), without listing the day's slots: every booking and reschedule asks.
 */
export function isOfferedSlot(opts: { rules: Rule[]; exceptions: Exception[]; slotMinutes: number; startsAt: Date }): boolean {
  const at = opts.startsAt.getTime();
  // Before 1970 is never a slot (as a listing from the epoch would not show it).
  if (Number.isNaN(at) || at < 0) return false;
  const { date, minutes: m } = japanWallClock(opts.startsAt);
  // Seconds past the minute, or a wall-clock time that means another instant (a zone transition), is no start.
  if (japanInstant(date, m).getTime() !== at) return false;
  return windowsOn(date, opts.rules, opts.exceptions).some((w) => {
    const first = minutes(w.startTime);
    return m >= first && m + opts.slotMinutes <= minutes(w.endTime) && (m - first) % opts.slotMinutes === 0;
  });
}
