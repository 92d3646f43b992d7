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
