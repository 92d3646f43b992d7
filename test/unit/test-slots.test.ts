import { isOfferedSlot } from '../../domain/availability';
import { japanDateOf as jstDate } from '../../domain/japan-time';
import { CLINIC_RULES, SLOT_MINUTES, WALK_IN_MARGIN_MS, WALK_IN_RULES, leadTime, runningSlot, slotOn } from '../harness/slots';

/**
 * The consultation tests take their times from test/harness/slots.ts. These checks run those
 * helpers with a clock we set, at the hours that used to break the suite (13:15–14:55 UTC, when
 * "now + n slots" ran past the doctor's 23:55 JST, and 15:00 UTC, midnight in Japan), and every
 * quarter of an hour of a whole day.
 */
const HOUR = 3_600_000;
const MINUTE = 60_000;
const criticalHours = [
  '2026-12-03T00:00:00.000Z', '2026-12-03T08:59:59.999Z', '2026-12-03T13:15:00.000Z', '2026-12-03T14:00:00.000Z',
  '2026-12-03T14:55:00.000Z', '2026-12-03T14:58:30.000Z', '2026-12-03T14:59:59.999Z', '2026-12-03T15:00:00.000Z',
  '2026-12-03T15:00:00.001Z', '2026-12-03T23:59:59.999Z', '2026-12-31T14:59:30.000Z', '2026-12-31T15:00:30.000Z',
].map((iso) => new Date(iso));
const everyQuarterHour = Array.from({ length: 24 * 4 }, (_, i) => new Date(Date.parse('2026-12-06T00:00:00Z') + i * 15 * MINUTE + 17_000));
const clocks = [...criticalHours, ...everyQuarterHour];

const offered = (rules: typeof CLINIC_RULES, iso: string) => isOfferedSlot({ rules, exceptions: [], slotMinutes: SLOT_MINUTES, startsAt: new Date(iso) });

describe('slotOn', () => {
  it('is the given Japan time on the Japanese date so many days ahead', () => {
    expect(slotOn(2, '10:00', new Date('2026-12-03T14:59:59Z'))).toBe('2026-12-05T01:00:00.000Z'); // Thu 23:59 JST → Sat 10:00 JST
    expect(slotOn(2, '10:00', new Date('2026-12-03T15:00:00Z'))).toBe('2026-12-06T01:00:00.000Z'); // Fri 00:00 JST → Sun 10:00 JST
    expect(slotOn(-2, '09:30', new Date('2026-12-03T12:00:00Z'))).toBe('2026-12-01T00:30:00.000Z');
    expect(jstDate(new Date(slotOn(1, '00:00', new Date('2026-12-31T15:00:30Z'))))).toBe('2027-01-02');
  });

  it.each(clocks.map((c) => [c.toISOString(), c] as const))('at %s: an offered slot, as far ahead as leadTime says', (_label, now) => {
    for (const [days, time] of [[2, '09:00'], [2, '10:00'], [2, '17:55'], [3, '10:00'], [14, '10:00']] as const) {
      const at = slotOn(days, time, now);
      expect(offered(CLINIC_RULES, at)).toBe(true);
      const ahead = Date.parse(at) - now.getTime();
      const { minMs, maxMs } = leadTime(days, time);
      expect(ahead).toBeGreaterThan(minMs);
      expect(ahead).toBeLessThanOrEqual(maxMs);
    }
    expect(offered(CLINIC_RULES, slotOn(2, '10:01', now))).toBe(false); // off the grid
    expect(offered(CLINIC_RULES, slotOn(2, '20:00', now))).toBe(false); // after hours
    expect(Date.parse(slotOn(-2, '10:00', now))).toBeLessThan(now.getTime() - 24 * HOUR); // always over
  });
});

describe('leadTime and the consultation timings the tests configure', () => {
  // test/api/consultations.test.ts books 2 Japanese days ahead between 09:00 and 18:00.
  const soonest = leadTime(2, '09:00').minMs;
  const latest = leadTime(2, '17:55').maxMs;

  it('keeps those slots between 33 and 66 hours ahead at any hour', () => {
    expect(soonest).toBe(33 * HOUR);
    expect(latest).toBe(65 * HOUR + 55 * MINUTE);
  });

  it('puts a 10-day reminder always overdue and a 24-hour or 1-hour one never due at booking', () => {
    expect(864_000_000).toBeGreaterThan(latest);
    expect(86_400_000).toBeLessThan(soonest);
  });

  it('has a 7-day join window open for them and closed for a slot 14 days ahead', () => {
    expect(7 * 24 * HOUR).toBeGreaterThan(latest);
    expect(leadTime(14, '09:00').minMs).toBeGreaterThan(7 * 24 * HOUR);
  });
});

describe('runningSlot', () => {
  it.each(clocks.map((c) => [c.toISOString(), c] as const))('at %s: a walk-in slot running now with 30 s left, or the next one, starting within 30 s', (_label, now) => {
    const at = runningSlot(now);
    expect(offered(WALK_IN_RULES, at)).toBe(true);
    const start = Date.parse(at);
    const end = start + SLOT_MINUTES * MINUTE;
    if (start <= now.getTime()) expect(end - now.getTime()).toBeGreaterThanOrEqual(WALK_IN_MARGIN_MS);
    else expect(start - now.getTime()).toBeLessThanOrEqual(WALK_IN_MARGIN_MS);
  });

  it('at every second of a Japanese day: an offered slot, running with 30 s left or starting within 30 s', () => {
    const day = Date.parse('2026-12-06T15:00:00Z'); // Monday 00:00 JST
    for (let s = 0; s < 24 * 3600; s += 7) {
      const now = new Date(day + s * 1000);
      const start = Date.parse(runningSlot(now));
      const ok = offered(WALK_IN_RULES, new Date(start).toISOString()) && (start <= now.getTime() ? start + SLOT_MINUTES * MINUTE - now.getTime() >= WALK_IN_MARGIN_MS : start - now.getTime() <= WALK_IN_MARGIN_MS);
      expect([s, ok]).toEqual([s, true]);
    }
  });
});
