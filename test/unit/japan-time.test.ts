import { freeSlots, isOfferedSlot } from '../../domain/availability';
import { addDays, formatJapanDateTime, isJapanDate, japanDateOf, japanDayRange, japanInstant, japanWallClock, weekdayOf } from '../../domain/japan-time';

describe('Japan time', () => {
  it('gives the instants a Japanese day covers', () => {
    expect(japanDayRange('2026-12-01')).toEqual({ start: new Date('2026-11-30T15:00:00Z'), end: new Date('2026-12-01T15:00:00Z') });
    // Across the end of a (leap) February and of a year.
    expect(japanDayRange('2028-02-29')).toEqual({ start: new Date('2028-02-28T15:00:00Z'), end: new Date('2028-02-29T15:00:00Z') });
    expect(japanDayRange('2026-12-31').end).toEqual(new Date('2026-12-31T15:00:00Z'));
    // The last supported day still has an end.
    expect(japanDayRange('2100-12-31').end).toEqual(new Date('2100-12-31T15:00:00Z'));
  });

  it('refuses dates that do not exist or lie outside 2000..2100', () => {
    for (const bad of ['2026-02-30', '2026-02-29', '2100-02-29', '2026-13-01', '2026-00-10', '2026-04-31', '2026-12-00', '0000-01-01', '9999-12-31', '1999-12-31', '2101-01-01', '2026-1-01', '2026-12-01T00:00:00Z', ' 2026-12-01', '']) {
      expect([bad, isJapanDate(bad)]).toEqual([bad, false]);
      expect(() => japanDayRange(bad)).toThrow(RangeError);
    }
    for (const good of ['2000-01-01', '2024-02-29', '2000-02-29', '2100-12-31']) expect([good, isJapanDate(good)]).toEqual([good, true]);
  });

  it('reads the wall clock in Japan at the day boundary', () => {
    expect(japanWallClock(new Date('2026-11-30T14:59:59.999Z'))).toEqual({ date: '2026-11-30', minutes: 23 * 60 + 59 });
    expect(japanWallClock(new Date('2026-11-30T15:00:00Z'))).toEqual({ date: '2026-12-01', minutes: 0 });
    expect(japanDateOf(new Date('2026-12-31T15:00:00Z'))).toBe('2027-01-01');
    expect(formatJapanDateTime(new Date('2026-12-01T05:30:00Z'))).toBe('2026-12-01 14:30');
    expect(formatJapanDateTime(new Date('2026-12-31T15:05:00Z'))).toBe('2027-01-01 00:05');
  });

  it('reads the same wall clock as Intl for any instant, also across the summer times of 1948–1951', () => {
    // partsOf caches the zone's offset per 15 minutes; Intl asked directly is the reference.
    const intl = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    const reference = (d: Date) => intl.format(d).replace(', ', ' ').replace(/^\d+/, (year) => year.padStart(4, '0'));
    const instants = [
      // Japan's summer time: on at 1948-05-01 24:00 (15:00Z), off at 1948-09-11 25:00 (15:00Z).
      ...[-1, 0, 1, 59, 60].map((m) => new Date(Date.UTC(1948, 4, 1, 15, m) - 60_000)),
      ...[-61, -60, -59, -1, 0, 1].map((m) => new Date(Date.UTC(1948, 8, 11, 15, 0) + m * 60_000)),
      new Date('0050-06-01T00:00:00Z'),
      new Date('2026-12-31T14:59:59.999Z'),
    ];
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 2_000; i++) instants.push(new Date(Date.UTC(1900, 0, 1) + Math.floor(random() * 200 * 365.25 * 86_400_000)));
    for (const d of instants) expect([d.toISOString(), formatJapanDateTime(d)]).toEqual([d.toISOString(), reference(d)]);
  });

  it('does calendar arithmetic without a zone', () => {
    expect(addDays('2026-02-28', 1)).toBe('2026-03-01');
    expect(addDays('2028-02-28', 1)).toBe('2028-02-29');
    expect(addDays('2026-01-01', -1)).toBe('2025-12-31');
    expect(weekdayOf('2026-12-01')).toBe(2); // a Tuesday
    expect(japanInstant('2026-12-01', 9 * 60 + 30)).toEqual(new Date('2026-12-01T00:30:00Z'));
    expect(() => japanInstant('2026-02-30', 0)).toThrow(RangeError);
    expect(() => japanInstant('2026-12-01', 24 * 60 + 1)).toThrow(RangeError);
  });
});

describe('free slots in Japan time', () => {
  const rules = [{ weekday: 2, startTime: '09:00', endTime: '10:00' }]; // Tuesdays 09:00-10:00 in Japan
  it('turns wall-clock rules into UTC instants, only on the rule\'s Japanese weekday', () => {
    const slots = freeSlots({ rules, exceptions: [], booked: [{ startsAt: new Date('2026-12-01T00:30:00.000Z'), endsAt: new Date('2026-12-01T01:00:00.000Z') }], from: new Date('2026-11-30T00:00:00Z'), to: new Date('2026-12-03T00:00:00Z'), slotMinutes: 30, now: new Date('2026-11-01T00:00:00Z') });
    expect(slots).toEqual([{ startsAt: '2026-12-01T00:00:00.000Z', endsAt: '2026-12-01T00:30:00.000Z' }]);
    expect(isOfferedSlot({ rules, exceptions: [], slotMinutes: 30, startsAt: new Date('2026-12-01T00:30:00Z') })).toBe(true);
    expect(isOfferedSlot({ rules, exceptions: [{ date: '2026-12-01', kind: 'closed' }], slotMinutes: 30, startsAt: new Date('2026-12-01T00:30:00Z') })).toBe(false);
    // 09:00 UTC on a Tuesday is 18:00 in Japan: not offered.
    expect(isOfferedSlot({ rules, exceptions: [], slotMinutes: 30, startsAt: new Date('2026-12-01T09:00:00Z') })).toBe(false);
  });

  it('handles a window that starts on the previous UTC day (a Japanese early morning)', () => {
    const early = [{ weekday: 2, startTime: '06:00', endTime: '07:00' }];
    const slots = freeSlots({ rules: early, exceptions: [], booked: [], from: new Date('2026-11-30T00:00:00Z'), to: new Date('2026-12-02T00:00:00Z'), slotMinutes: 60, now: new Date(0) });
    expect(slots).toEqual([{ startsAt: '2026-11-30T21:00:00.000Z', endsAt: '2026-11-30T22:00:00.000Z' }]);
  });
});
