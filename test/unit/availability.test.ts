import { availabilitySchema, freeSlots, isOfferedSlot, type Exception, type Rule } from '../../domain/availability';
import { addDays, japanDateOf as jstDate, japanInstant, weekdayOf } from '../../domain/japan-time';

/**
 * Rules are Japan wall-clock times (UTC+9, no daylight saving); slots come out as UTC instants.
 * 2026-12-06 is a Sunday and 2026-12-07 a Monday, in Japan as in UTC.
 */
const SUNDAY = 0;
const MONDAY = 1;
const at = (iso: string) => new Date(iso);
const starts = (slots: { startsAt: string }[]) => slots.map((s) => s.startsAt);
const LONG_AGO = at('2000-01-01T00:00:00Z');

/** Bookings as [start, minutes]; a bare start lasts one slot. */
type Booked = string | [string, number];

function slots(opts: { rules?: Rule[]; exceptions?: Exception[]; booked?: Booked[]; from: string; to: string; slotMinutes?: number; now?: string }) {
  const minutes = opts.slotMinutes ?? 30;
  const booked = (opts.booked ?? []).map((b) => (typeof b === 'string' ? [b, minutes] as const : b)).map(([s, m]) => ({ startsAt: at(s), endsAt: new Date(at(s).getTime() + m * 60_000) }));
  return freeSlots({
    rules: opts.rules ?? [],
    exceptions: opts.exceptions ?? [],
    booked,
    from: at(opts.from),
    to: at(opts.to),
    slotMinutes: opts.slotMinutes ?? 30,
    now: opts.now ? at(opts.now) : LONG_AGO,
  });
}

describe('jstDate', () => {
  it('turns at 15:00 UTC, midnight in Japan', () => {
    expect(jstDate(at('2026-12-06T14:59:59.999Z'))).toBe('2026-12-06');
    expect(jstDate(at('2026-12-06T15:00:00.000Z'))).toBe('2026-12-07');
    expect(jstDate(at('2026-12-31T15:00:00Z'))).toBe('2027-01-01');
    expect(jstDate(at('2026-12-07T00:00:00Z'))).toBe('2026-12-07');
  });
});

describe('freeSlots', () => {
  const monday: Rule[] = [{ weekday: MONDAY, startTime: '09:00', endTime: '11:00' }];
  const mondayMorning = { from: '2026-12-07T00:00:00Z', to: '2026-12-07T03:00:00Z' }; // 09:00–12:00 JST

  it('cuts a Japan-time window into slots given as UTC instants', () => {
    expect(slots({ rules: monday, ...mondayMorning })).toEqual([
      { startsAt: '2026-12-07T00:00:00.000Z', endsAt: '2026-12-07T00:30:00.000Z' },
      { startsAt: '2026-12-07T00:30:00.000Z', endsAt: '2026-12-07T01:00:00.000Z' },
      { startsAt: '2026-12-07T01:00:00.000Z', endsAt: '2026-12-07T01:30:00.000Z' },
      { startsAt: '2026-12-07T01:30:00.000Z', endsAt: '2026-12-07T02:00:00.000Z' },
    ]);
  });

  it('offers a slot that ends exactly at the window end, never one that runs past it', () => {
    const rules = [{ weekday: MONDAY, startTime: '09:00', endTime: '10:45' }];
    expect(starts(slots({ rules, ...mondayMorning }))).toEqual(['2026-12-07T00:00:00.000Z', '2026-12-07T00:30:00.000Z', '2026-12-07T01:00:00.000Z']);
    expect(starts(slots({ rules, ...mondayMorning, slotMinutes: 15 })).at(-1)).toBe('2026-12-07T01:30:00.000Z'); // 10:30–10:45
  });

  it('accepts times with seconds, as PostgreSQL returns them', () => {
    expect(slots({ rules: [{ weekday: MONDAY, startTime: '09:00:00', endTime: '10:00:00' }], ...mondayMorning })).toHaveLength(2);
  });

  it('keeps only slots wholly inside [from, to]', () => {
    // from 09:15, to 10:30 JST: 09:00 began before from; 10:30 would end after to.
    expect(starts(slots({ rules: monday, from: '2026-12-07T00:15:00Z', to: '2026-12-07T01:30:00Z' }))).toEqual(['2026-12-07T00:30:00.000Z', '2026-12-07T01:00:00.000Z']);
    // Boundaries are inclusive: a slot starting at `from` and one ending at `to` both count.
    expect(starts(slots({ rules: monday, from: '2026-12-07T00:30:00Z', to: '2026-12-07T01:30:00Z' }))).toEqual(['2026-12-07T00:30:00.000Z', '2026-12-07T01:00:00.000Z']);
    expect(slots({ rules: monday, from: '2026-12-07T00:31:00Z', to: '2026-12-07T00:59:00Z' })).toEqual([]);
  });

  it('lists nothing that has already begun: a slot starting exactly now is still listed', () => {
    expect(starts(slots({ rules: monday, ...mondayMorning, now: '2026-12-07T00:45:00Z' }))).toEqual(['2026-12-07T01:00:00.000Z', '2026-12-07T01:30:00.000Z']);
    expect(starts(slots({ rules: monday, ...mondayMorning, now: '2026-12-07T01:00:00Z' }))).toEqual(['2026-12-07T01:00:00.000Z', '2026-12-07T01:30:00.000Z']);
    expect(slots({ rules: monday, ...mondayMorning, now: '2026-12-07T02:00:00Z' })).toEqual([]);
  });

  it('leaves out booked slots', () => {
    expect(starts(slots({ rules: monday, ...mondayMorning, booked: ['2026-12-07T00:30:00.000Z', '2026-12-07T01:30:00.000Z'] }))).toEqual(['2026-12-07T00:00:00.000Z', '2026-12-07T01:00:00.000Z']);
  });

  it('leaves out every slot a booking overlaps, on the grid or not (a booking made before the hours or the slot length changed)', () => {
    // 09:15–09:45 (30 minutes, off today's grid) takes 09:00 and 09:30; 10:50–11:20 takes 10:30 and 11:00, the edge not.
    const booked: Booked[] = [['2026-12-07T00:15:00Z', 30], ['2026-12-07T01:50:00Z', 30]];
    expect(starts(slots({ rules: monday, ...mondayMorning, booked }))).toEqual(['2026-12-07T01:00:00.000Z']);
    // Touching is not overlapping: a booking ending at 09:30 leaves 09:30 free.
    expect(starts(slots({ rules: monday, ...mondayMorning, booked: [['2026-12-06T23:45:00Z', 45]] }))).toEqual(['2026-12-07T00:30:00.000Z', '2026-12-07T01:00:00.000Z', '2026-12-07T01:30:00.000Z']);
  });

  it('merges windows of one day that overlap into one grid (never 09:00 beside 09:05); touching ones keep their own', () => {
    const monday9to10 = { from: '2026-12-07T00:00:00Z', to: '2026-12-07T01:00:00Z', slotMinutes: 15 };
    const overlapping: Rule[] = [{ weekday: MONDAY, startTime: '09:00', endTime: '09:40' }, { weekday: MONDAY, startTime: '09:05', endTime: '10:00' }];
    expect(starts(slots({ rules: overlapping, ...monday9to10 }))).toEqual(['2026-12-07T00:00:00.000Z', '2026-12-07T00:15:00.000Z', '2026-12-07T00:30:00.000Z', '2026-12-07T00:45:00.000Z']);
    // An open hour across the weekly ones joins them the same way.
    const openHour: Exception[] = [{ date: '2026-12-07', kind: 'open', startTime: '09:20', endTime: '10:00' }];
    expect(starts(slots({ rules: [{ weekday: MONDAY, startTime: '09:00', endTime: '09:30' }], exceptions: openHour, ...monday9to10 }))).toEqual(['2026-12-07T00:00:00.000Z', '2026-12-07T00:15:00.000Z', '2026-12-07T00:30:00.000Z', '2026-12-07T00:45:00.000Z']);
    expect(isOfferedSlot({ rules: overlapping, exceptions: [], slotMinutes: 15, startsAt: at('2026-12-07T00:05:00Z') })).toBe(false);
    // 09:00–09:40 and 09:40–10:00 touch: the second grid starts at 09:40.
    const touching: Rule[] = [{ weekday: MONDAY, startTime: '09:00', endTime: '09:40' }, { weekday: MONDAY, startTime: '09:40', endTime: '10:00' }];
    expect(starts(slots({ rules: touching, ...monday9to10 }))).toEqual(['2026-12-07T00:00:00.000Z', '2026-12-07T00:15:00.000Z', '2026-12-07T00:40:00.000Z']);
  });

  it('lets a window end at 24:00, so the last slot before midnight is offered', () => {
    const late: Rule[] = [{ weekday: MONDAY, startTime: '23:00', endTime: '24:00' }];
    expect(availabilitySchema.safeParse({ rules: late }).success).toBe(true);
    expect(availabilitySchema.safeParse({ rules: [{ weekday: MONDAY, startTime: '24:00', endTime: '24:00' }] }).success).toBe(false);
    expect(starts(slots({ rules: late, from: '2026-12-07T14:00:00Z', to: '2026-12-07T15:00:00Z', slotMinutes: 15 }))).toEqual(['2026-12-07T14:00:00.000Z', '2026-12-07T14:15:00.000Z', '2026-12-07T14:30:00.000Z', '2026-12-07T14:45:00.000Z']);
    expect(isOfferedSlot({ rules: late, exceptions: [], slotMinutes: 15, startsAt: at('2026-12-07T14:45:00Z') })).toBe(true);
  });

  it('offers nothing on a weekday without rules', () => {
    expect(slots({ rules: [{ weekday: SUNDAY, startTime: '09:00', endTime: '11:00' }], ...mondayMorning })).toEqual([]);
  });

  it('closes a day with a closed exception and opens one with an open exception', () => {
    const closed: Exception[] = [{ date: '2026-12-07', kind: 'closed' }];
    expect(slots({ rules: monday, exceptions: closed, ...mondayMorning })).toEqual([]);
    const open: Exception[] = [{ date: '2026-12-06', kind: 'open', startTime: '10:00', endTime: '11:00' }];
    expect(starts(slots({ rules: monday, exceptions: open, from: '2026-12-06T00:00:00Z', to: '2026-12-07T03:00:00Z' }))).toEqual([
      '2026-12-06T01:00:00.000Z', '2026-12-06T01:30:00.000Z', // Sunday, opened by the exception
      '2026-12-07T00:00:00.000Z', '2026-12-07T00:30:00.000Z', '2026-12-07T01:00:00.000Z', '2026-12-07T01:30:00.000Z',
    ]);
    // An exception on another date changes nothing.
    expect(slots({ rules: monday, exceptions: [{ date: '2026-12-08', kind: 'closed' }], ...mondayMorning })).toHaveLength(4);
  });

  it('merges overlapping windows (a rule and an open exception, or two rules) into one sorted list without duplicates', () => {
    const rules = [...monday, { weekday: MONDAY, startTime: '10:00', endTime: '12:00' }];
    const exceptions: Exception[] = [{ date: '2026-12-07', kind: 'open', startTime: '08:00', endTime: '09:30' }];
    expect(starts(slots({ rules, exceptions, from: '2026-12-06T22:00:00Z', to: '2026-12-07T03:00:00Z' }))).toEqual([
      '2026-12-06T23:00:00.000Z', '2026-12-06T23:30:00.000Z', '2026-12-07T00:00:00.000Z', '2026-12-07T00:30:00.000Z',
      '2026-12-07T01:00:00.000Z', '2026-12-07T01:30:00.000Z', '2026-12-07T02:00:00.000Z', '2026-12-07T02:30:00.000Z',
    ]);
  });

  describe('across midnight in Japan (15:00 UTC)', () => {
    // Sunday 22:00–23:59 and Monday 00:00–02:00, Japan time, in one-hour slots.
    const rules: Rule[] = [
      { weekday: SUNDAY, startTime: '22:00', endTime: '23:59' },
      { weekday: MONDAY, startTime: '00:00', endTime: '02:00' },
    ];

    it('takes each slot from the Japanese weekday and date, not the UTC one', () => {
      // All of these are Sunday in UTC; the last two are Monday in Japan.
      expect(starts(slots({ rules, from: '2026-12-06T12:00:00Z', to: '2026-12-06T18:00:00Z', slotMinutes: 60 }))).toEqual([
        '2026-12-06T13:00:00.000Z', // Sunday 22:00 JST (23:00–24:00 would pass 23:59)
        '2026-12-06T15:00:00.000Z', // Monday 00:00 JST
        '2026-12-06T16:00:00.000Z', // Monday 01:00 JST
      ]);
    });

    it('finds the Monday slots whether the range starts on the Japanese Sunday or Monday', () => {
      expect(starts(slots({ rules, from: '2026-12-06T14:59:00Z', to: '2026-12-06T16:00:00Z', slotMinutes: 60 }))).toEqual(['2026-12-06T15:00:00.000Z']);
      expect(starts(slots({ rules, from: '2026-12-06T15:00:00Z', to: '2026-12-06T17:00:00Z', slotMinutes: 60 }))).toEqual(['2026-12-06T15:00:00.000Z', '2026-12-06T16:00:00.000Z']);
    });

    it('applies a dated exception to the Japanese date', () => {
      const exceptions: Exception[] = [{ date: '2026-12-07', kind: 'closed' }]; // Monday in Japan
      expect(starts(slots({ rules, exceptions, from: '2026-12-06T12:00:00Z', to: '2026-12-06T18:00:00Z', slotMinutes: 60 }))).toEqual(['2026-12-06T13:00:00.000Z']);
    });

    it('crosses into a new year', () => {
      // 2026-12-31 is a Thursday, 2027-01-01 a Friday (in Japan).
      const newYear: Rule[] = [{ weekday: 4, startTime: '23:00', endTime: '23:59' }, { weekday: 5, startTime: '00:00', endTime: '01:00' }];
      expect(starts(slots({ rules: newYear, from: '2026-12-31T13:00:00Z', to: '2026-12-31T17:00:00Z', slotMinutes: 30 }))).toEqual([
        '2026-12-31T14:00:00.000Z', // 23:00 on the 31st (23:30–24:00 would pass 23:59)
        '2026-12-31T15:00:00.000Z', '2026-12-31T15:30:00.000Z', // 00:00, 00:30 on the 1st
      ]);
    });

    it('never offers the last minutes before midnight: a window ends at 23:59 at the latest', () => {
      const allDay: Rule[] = [0, 1, 2, 3, 4, 5, 6].map((weekday) => ({ weekday, startTime: '00:00', endTime: '23:59' }));
      const evening = starts(slots({ rules: allDay, from: '2026-12-06T14:00:00Z', to: '2026-12-06T15:10:00Z', slotMinutes: 5 }));
      expect(evening.at(-3)).toBe('2026-12-06T14:50:00.000Z'); // 23:50 JST, ends 23:55
      expect(evening.slice(-2)).toEqual(['2026-12-06T15:00:00.000Z', '2026-12-06T15:05:00.000Z']); // no 23:55 slot
    });
  });
});

describe('isOfferedSlot', () => {
  const rules: Rule[] = [{ weekday: MONDAY, startTime: '09:00', endTime: '12:00' }];
  const offered = (startsAt: string, opts: { exceptions?: Exception[]; slotMinutes?: number } = {}) =>
    isOfferedSlot({ rules, exceptions: opts.exceptions ?? [], slotMinutes: opts.slotMinutes ?? 15, startsAt: at(startsAt) });

  it('accepts the start of a slot on the grid, first and last included', () => {
    expect(offered('2026-12-07T00:00:00Z')).toBe(true); // 09:00 JST
    expect(offered('2026-12-07T01:15:00Z')).toBe(true);
    expect(offered('2026-12-07T02:45:00Z')).toBe(true); // 11:45–12:00
  });

  it('refuses starts off the grid, outside the hours, or whose slot would run past the end', () => {
    expect(offered('2026-12-07T00:01:00Z')).toBe(false);
    expect(offered('2026-12-07T00:00:30Z')).toBe(false);
    expect(offered('2026-12-06T23:45:00Z')).toBe(false); // 08:45 JST
    expect(offered('2026-12-07T03:00:00Z')).toBe(false); // 12:00 JST
    expect(offered('2026-12-07T02:30:00Z', { slotMinutes: 45 })).toBe(false); // 11:15–12:00 is on a 45-minute grid only from 09:00: 09:00, 09:45, 10:30, 11:15
    expect(offered('2026-12-07T02:15:00Z', { slotMinutes: 45 })).toBe(true);
  });

  it('does not care about the present: a slot that has begun or passed is still a slot (walk-ins, past checks)', () => {
    expect(offered('2020-01-06T00:00:00Z')).toBe(true); // a Monday long ago
  });

  it('follows dated exceptions', () => {
    expect(offered('2026-12-07T00:00:00Z', { exceptions: [{ date: '2026-12-07', kind: 'closed' }] })).toBe(false);
    expect(offered('2026-12-06T00:00:00Z')).toBe(false); // Sunday
    expect(offered('2026-12-06T00:00:00Z', { exceptions: [{ date: '2026-12-06', kind: 'open', startTime: '09:00', endTime: '10:00' }] })).toBe(true);
  });

  it('judges a start just after 15:00 UTC by the next Japanese day', () => {
    const mondayEarly: Rule[] = [{ weekday: MONDAY, startTime: '00:00', endTime: '01:00' }];
    expect(isOfferedSlot({ rules: mondayEarly, exceptions: [], slotMinutes: 30, startsAt: at('2026-12-06T15:30:00Z') })).toBe(true); // Monday 00:30 JST
    expect(isOfferedSlot({ rules: mondayEarly, exceptions: [], slotMinutes: 30, startsAt: at('2026-12-07T15:30:00Z') })).toBe(false); // Tuesday 00:30 JST
  });
});

/**
 * isOfferedSlot decides from the wall clock alone and freeSlots adds minutes to the day's midnight;
 * both used to ask the zone for every slot. Checked here against that per-slot listing, kept as
 * the reference, over seeded random schedules and instants (grid starts, off-grid minutes,
 * seconds, either side of midnight in Japan, dated exceptions).
 */
describe('slot arithmetic agrees with asking the zone for every slot', () => {
  const reference = (o: { rules: Rule[]; exceptions: Exception[]; from: Date; to: Date; slotMinutes: number; now: Date }) => {
    const out = new Set<string>();
    for (let d = jstDate(o.from); d <= jstDate(o.to); d = addDays(d, 1)) {
      const day = o.exceptions.filter((e) => e.date === d);
      if (day.some((e) => e.kind === 'closed')) continue;
      const toMinutes = (t: string) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5));
      const windows = [...o.rules.filter((r) => r.weekday === weekdayOf(d)), ...day.filter((e) => e.kind === 'open').map((e) => ({ startTime: e.startTime!, endTime: e.endTime! }))]
        .map((w) => [toMinutes(w.startTime), toMinutes(w.endTime)] as [number, number])
        .sort((a, b) => a[0] - b[0]);
      // Overlapping windows are one window (touching ones are not).
      const merged: Array<[number, number]> = [];
      for (const [s, e] of windows) {
        const last = merged[merged.length - 1];
        if (last && s < last[1]) last[1] = Math.max(last[1], e);
        else merged.push([s, e]);
      }
      for (const [first, last] of merged) {
        for (let m = first; m + o.slotMinutes <= last; m += o.slotMinutes) {
          const start = japanInstant(d, m).getTime();
          if (start >= o.from.getTime() && start + o.slotMinutes * 60_000 <= o.to.getTime() && start >= o.now.getTime()) out.add(new Date(start).toISOString());
        }
      }
    }
    return [...out].sort();
  };
  let seed = 20261205;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  const schedule = () => {
    const rules: Rule[] = Array.from({ length: 1 + random(4) }, () => {
      const start = random(23 * 60);
      return { weekday: random(7), startTime: hhmm(start), endTime: hhmm(start + 1 + random(23 * 60 + 59 - start)) };
    });
    const exceptions: Exception[] = Array.from({ length: random(3) }, () => {
      const date = addDays('2026-12-01', random(14));
      const start = random(20 * 60);
      return random(2) === 0 ? { date, kind: 'closed' as const } : { date, kind: 'open' as const, startTime: hhmm(start), endTime: hhmm(start + 30 + random(180)) };
    });
    return { rules, exceptions, slotMinutes: [5, 10, 15, 20, 30, 45, 60, 90][random(8)]! };
  };

  it('isOfferedSlot says yes exactly for the starts the listing shows', () => {
    let offered = 0;
    for (let i = 0; i < 3_000; i += 1) {
      const s = schedule();
      // Half aimed at a weekly rule's grid (that day may still be closed), half anywhere on the
      // minute; some with seconds or milliseconds; over two weeks, both sides of 15:00 UTC.
      const date = addDays('2026-11-30', random(16));
      const rule = s.rules.find((r) => r.weekday === weekdayOf(date));
      const [h, mm] = (rule?.startTime ?? '00:00').split(':').map(Number);
      const base = rule && random(2) === 0 ? japanInstant(date, h! * 60 + mm! + s.slotMinutes * random(20)).getTime() : Date.parse('2026-11-30T00:00:00Z') + random(16 * 24 * 60) * 60_000;
      const startsAt = new Date(base + (random(10) === 0 ? 1 + random(59_999) : 0));
      const expected = reference({ ...s, from: startsAt, to: new Date(startsAt.getTime() + s.slotMinutes * 60_000), now: new Date(0) }).includes(startsAt.toISOString());
      expect(isOfferedSlot({ ...s, startsAt })).toBe(expected);
      if (expected) offered += 1;
    }
    expect(offered).toBeGreaterThan(300); // the grid was hit, not only missed
  });

  it('freeSlots lists what the reference lists, over ranges of up to 31 days', () => {
    for (let i = 0; i < 200; i += 1) {
      const s = schedule();
      const from = new Date(Date.parse('2026-11-25T00:00:00Z') + random(10 * 24 * 60) * 60_000);
      const to = new Date(from.getTime() + random(31 * 24 * 60) * 60_000);
      const now = new Date(from.getTime() + (random(2) === 0 ? 0 : random(3 * 24 * 60) * 60_000));
      const listed = freeSlots({ ...s, booked: [], from, to, now });
      expect(listed.map((x) => x.startsAt)).toEqual(reference({ ...s, from, to, now }));
      for (const x of listed) expect(Date.parse(x.endsAt) - Date.parse(x.startsAt)).toBe(s.slotMinutes * 60_000);
    }
  });

  it('refuses instants before 1970, as a listing from the epoch would', () => {
    const rules: Rule[] = [0, 1, 2, 3, 4, 5, 6].map((weekday) => ({ weekday, startTime: '00:00', endTime: '23:55' }));
    expect(isOfferedSlot({ rules, exceptions: [], slotMinutes: 5, startsAt: at('1969-12-31T00:00:00Z') })).toBe(false);
    expect(isOfferedSlot({ rules, exceptions: [], slotMinutes: 5, startsAt: at('1970-01-01T00:00:00Z') })).toBe(true);
  });
});
