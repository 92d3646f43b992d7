import { assertSlotRange, availabilitySchema, freeSlots } from '../../domain/availability';
import { birthDate, scheduleDate, scheduleInstant } from '../../domain/dates';
import { japanDateOf as jstDate } from '../../domain/japan-time';

describe('strict dates from clients', () => {
  it('accepts only calendar dates that exist, in schedule years', () => {
    for (const ok of ['2026-12-01', '2028-02-29', '2000-01-01', '2100-12-31']) expect([ok, scheduleDate.safeParse(ok).success]).toEqual([ok, true]);
    for (const bad of ['2026-02-30', '2026-02-29', '2026-04-31', '2026-13-01', '2026-1-1', '0000-01-01', '9999-12-31', '1999-12-31', '2101-01-01', '']) {
      expect([bad, scheduleDate.safeParse(bad).success]).toEqual([bad, false]);
    }
  });

  it('accepts instants with Z or an offset on real days only', () => {
    for (const ok of ['2026-03-01T09:00:00+09:00', '2026-03-01T00:00:00Z', '2026-03-01T00:00:00.123Z', '2026-03-01T00:00:00.000000Z']) expect([ok, scheduleInstant.safeParse(ok).success]).toEqual([ok, true]);
    // Finer than a millisecond: every clock here would drop it and take another moment than the one written.
    for (const bad of ['2026-02-30T00:00:00Z', '2026-03-01T09:00:00', '0000-01-01T00:00:00Z', '9999-12-31T00:00:00Z', '2026-03-01T24:00:00Z', 'tomorrow', '2026-03-01T00:00:00.000000001Z', '2026-03-01T00:00:00.1234+09:00']) {
      expect([bad, scheduleInstant.safeParse(bad).success]).toEqual([bad, false]);
    }
  });

  it('bounds the year of an instant as Japan sees it, not as its offset writes it', () => {
    // 2101-01-01 and 1999-12-31 in Japan, written as days inside the years.
    for (const bad of ['2100-12-31T20:00:00-14:00', '2100-12-31T15:00:00Z', '2000-01-01T00:00:00+14:00']) expect([bad, scheduleInstant.safeParse(bad).success]).toEqual([bad, false]);
    // 1999-12-31T15:00Z is 2000-01-01 in Japan.
    for (const ok of ['2100-12-31T23:59:00+09:00', '2100-12-31T14:59:00Z', '2000-01-01T00:00:00+09:00', '1999-12-31T15:00:00Z']) expect([ok, scheduleInstant.safeParse(ok).success]).toEqual([ok, true]);
  });

  it('takes birth dates from 1900 to today in Japan', () => {
    expect(birthDate.safeParse('1985-06-15').success).toBe(true);
    expect(birthDate.safeParse(jstDate(new Date())).success).toBe(true);
    for (const bad of ['1985-02-29', '1899-12-31', '0000-01-01', '9999-01-01', jstDate(new Date(Date.now() + 2 * 86_400_000))]) {
      expect([bad, birthDate.safeParse(bad).success]).toEqual([bad, false]);
    }
  });

  it('refuses availability exceptions on days that do not exist', () => {
    const closed = (date: string) => availabilitySchema.safeParse({ rules: [], exceptions: [{ date, kind: 'closed' }] });
    expect(closed('2026-03-01').success).toBe(true);
    expect(closed('2026-02-30').error?.issues.map((i) => i.path.join('.'))).toEqual(['exceptions.0.date']);
    expect(closed('9999-12-31').success).toBe(false);
  });
});

describe('slot ranges and free slots', () => {
  const rules = [{ weekday: 0, startTime: '09:00', endTime: '10:00' }];
  // Sunday 2026-03-01 in Japan, 09:00-10:00 JST = 00:00-01:00 UTC; the clock is ours.
  const from = new Date('2026-03-01T00:00:00+09:00');
  const to = new Date('2026-03-02T00:00:00+09:00');

  it('refuses reversed and over-long ranges', () => {
    expect(() => assertSlotRange(to, from)).toThrow(expect.objectContaining({ code: 'invalid_range' }));
    expect(() => assertSlotRange(from, new Date(from.getTime() + 32 * 86_400_000))).toThrow(expect.objectContaining({ code: 'range_too_large' }));
    expect(() => assertSlotRange(from, new Date(from.getTime() + 31 * 86_400_000))).not.toThrow();
  });

  it('computes slots in Japan time, minus booked, closed and begun ones', () => {
    const at = (now: string, exceptions: Parameters<typeof freeSlots>[0]['exceptions'] = [], booked: string[] = []) =>
      freeSlots({ rules, exceptions, booked: booked.map((s) => ({ startsAt: new Date(s), endsAt: new Date(Date.parse(s) + 30 * 60_000) })), from, to, slotMinutes: 30, now: new Date(now) }).map((s) => s.startsAt);
    expect(at('2026-02-01T00:00:00Z')).toEqual(['2026-03-01T00:00:00.000Z', '2026-03-01T00:30:00.000Z']);
    expect(at('2026-03-01T00:10:00Z')).toEqual(['2026-03-01T00:30:00.000Z']);
    expect(at('2026-02-01T00:00:00Z', [], ['2026-03-01T00:00:00.000Z'])).toEqual(['2026-03-01T00:30:00.000Z']);
    expect(at('2026-02-01T00:00:00Z', [{ date: '2026-03-01', kind: 'closed' }])).toEqual([]);
  });
});
