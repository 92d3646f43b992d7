import { Problem } from '../../domain/problems';
import { assertWithinHorizon, bookingHorizonEnd, bookingSettingsSchema } from '../../domain/booking-horizon';

/** The horizon counts Japanese calendar days, whatever the hour of the request in UTC or in Japan. */
describe('booking horizon', () => {
  it('ends at midnight in Japan after the last bookable day, at any hour of today', () => {
    // 2026-12-07 in Japan runs from 2026-12-06T15:00Z to 2026-12-07T15:00Z.
    for (const now of ['2026-12-06T15:00:00.000Z', '2026-12-07T03:00:00.000Z', '2026-12-07T14:59:59.999Z']) {
      expect(bookingHorizonEnd(new Date(now), 3).toISOString()).toBe('2026-12-10T15:00:00.000Z');
    }
    // One millisecond later it is the 8th in Japan: the horizon moves on by a day.
    expect(bookingHorizonEnd(new Date('2026-12-07T15:00:00.000Z'), 3).toISOString()).toBe('2026-12-11T15:00:00.000Z');
  });

  it('takes the last slot of the last day and refuses the first minute after it, with what is bookable', () => {
    const now = new Date('2026-12-07T14:59:00.000Z'); // 23:59 in Japan
    expect(() => assertWithinHorizon(new Date('2026-12-10T14:55:00.000Z'), now, 3)).not.toThrow(); // 12-10 23:55 JST
    let refused: unknown;
    try {
      assertWithinHorizon(new Date('2026-12-10T15:00:00.000Z'), now, 3); // 12-11 00:00 JST
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(Problem);
    expect(refused).toMatchObject({ status: 400, code: 'beyond_booking_horizon', extra: { horizonDays: 3, bookableUntil: '2026-12-10T15:00:00.000Z' } });
  });

  it('stops at the end of the last supported year instead of failing on a date past it', () => {
    expect(bookingHorizonEnd(new Date('2099-06-01T00:00:00.000Z'), 730).toISOString()).toBe('2100-12-31T15:00:00.000Z');
    expect(() => assertWithinHorizon(new Date('2100-12-31T14:55:00.000Z'), new Date('2099-06-01T00:00:00.000Z'), 730)).not.toThrow();
  });

  it('accepts whole days from 1 to 730 and nothing else', () => {
    for (const ok of [1, 365, 730]) expect(bookingSettingsSchema.safeParse({ horizonDays: ok }).success).toBe(true);
    for (const bad of [0, 731, 1.5, -1, '30', null]) expect(bookingSettingsSchema.safeParse({ horizonDays: bad }).success).toBe(false);
    expect(bookingSettingsSchema.safeParse({}).success).toBe(false);
    expect(bookingSettingsSchema.safeParse({ horizonDays: 30, extra: true }).success).toBe(false);
  });
});
