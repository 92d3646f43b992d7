import { z } from 'zod';
import { scheduleDate } from './dates';
import { badRequest } from './problems';

/**
 * Free slots, computed on demand from weekly rules and dated exceptions (nothing is
 * pre-created). Rules are wall-clock times in Japan (domain/japan-time.ts converts them); slots
 * come out as UTC instants.
 */
import { addDays, japanDateOf, japanInstant, weekdayOf } from './japan-time';

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
export const ruleSchema = z
  .strictObject({ weekday: z.number().int().min(0).max(6), startTime: time, endTime: time })
  .refine((r) => r.endTime > r.startTime, 'endTime must be after startTime');
const exceptionSchema = z
  .strictObject({ date: scheduleDate, kind: z.enum(['closed', 'open']), startTime: time.nullable().optional(), endTime: time.nullable().optional() })
  .refine((e) => (e.kind === 'closed' ? !e.startTime && !e.endTime : Boolean(e.startTime && e.endTime && e.endTime > e.startTime)), 'a closed day has no times; an open one needs startTime < endTime');
/** What PUT /v1/practitioners/:id/availability replaces: all weekly rules and all dated exceptions. */
export const availabilitySchema = z.strictObject({ rules: z.array(ruleSchema).max(100), exceptions: z.array(exceptionSchema).max(400).default([]) });
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
  booked: Set<string>; // ISO starts of live consultations
  from: Date;
  to: Date;
  slotMinutes: number;
  now: Date;
}): Slot[] {
  const out: Slot[] = [];
  const lastDate = japanDateOf(opts.to);
  for (let date = japanDateOf(opts.from); date <= lastDate; date = addDays(date, 1)) {
    const weekday = weekdayOf(date);
    const dayExceptions = opts.exceptions.filter((e) => e.date === date);
    if (dayExceptions.some((e) => e.kind === 'closed')) continue;
    const windows = [
      ...opts.rules.filter((r) => r.weekday === weekday),
      ...dayExceptions.filter((e) => e.kind === 'open').map((e) => ({ startTime: e.startTime!, endTime: e.endTime! })),
    ];
    for (const w of windows) {
      for (let m = minutes(w.startTime); m + opts.slotMinutes <= minutes(w.endTime); m += opts.slotMinutes) {
        const start = japanInstant(date, m).getTime();
        const end = start + opts.slotMinutes * 60_000;
        if (start < opts.from.getTime() || end > opts.to.getTime() || start < opts.now.getTime()) continue;
        const startsAt = new Date(start).toISOString();
        if (!opts.booked.has(startsAt)) out.push({ startsAt, endsAt: new Date(end).toISOString() });
      }
    }
  }
  return [...new Map(out.map((s) => [s.startsAt, s])).values()].sort((a, b) => a.startsAt.localeCompare(b.startsAt));
}

/** Is `startsAt` the start of a slot the practitioner offers (ignoring bookings)? */
export function isOfferedSlot(opts: { rules: Rule[]; exceptions: Exception[]; slotMinutes: number; startsAt: Date }): boolean {
  const slots = freeSlots({ ...opts, booked: new Set(), from: opts.startsAt, to: new Date(opts.startsAt.getTime() + opts.slotMinutes * 60_000), now: new Date(0) });
  return slots.some((s) => s.startsAt === opts.startsAt.toISOString());
}
