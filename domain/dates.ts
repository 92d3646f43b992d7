import { z } from 'zod';
import { japanDateOf, SUPPORTED_YEARS } from './japan-time';

/**
 * Dates and instants from clients, checked strictly so that a wrong one is the caller's 400
 * validation_failed, never our 500 or a silently different day: a calendar date must exist
 * (2026-02-30 is refused, not rolled over into March), an instant must carry its offset, and
 * the year must be one a clinic can mean.
 */
/** Years of schedules: availability exceptions, slot ranges, day lists (the range japan-time.ts supports). */
const SCHEDULE_YEARS = SUPPORTED_YEARS;

const yearOf = (iso: string) => Number(iso.slice(0, 4));
const inScheduleYears = (iso: string) => yearOf(iso) >= SCHEDULE_YEARS.min && yearOf(iso) <= SCHEDULE_YEARS.max;
const yearsMessage = `must be in the years ${SCHEDULE_YEARS.min}-${SCHEDULE_YEARS.max}`;

/** A day of a schedule, in Japan: YYYY-MM-DD that exists. */
export const scheduleDate = z.iso.date({ message: 'must be a real date like 2026-12-01 (Japan)', abort: true }).refine(inScheduleYears, yearsMessage);

/**
 * A moment of a schedule: ISO 8601 with Z or an offset, on a day that exists, in the years above
 * as a clinic in Japan sees it — the year of the written date is not enough: 2100-12-31T20:00-14:00
 * is 2101-01-01 in Japan, a day no day list may name.
 */
export const scheduleInstant = z.iso
  .datetime({ offset: true, message: 'must be a real date and time with Z or an offset, like 2026-12-01T09:00:00+09:00', abort: true })
  // Finer than a millisecond is dropped by every clock here: 09:00:00.000000001 would have been
  // taken as 09:00 exactly (a slot) while 09:00:00.001 is refused as none. Zeros are fine.
  .refine((iso) => !/\.\d{3}\d*[1-9]/.test(iso), { message: 'must not be finer than a millisecond', abort: true })
  .refine((iso) => inScheduleYears(japanDateOf(new Date(iso))), yearsMessage);

/** A date of birth: a real date, not before 1900 and not after today in Japan. */
export const birthDate = z.iso
  .date({ message: 'must be a real date like 1980-04-01', abort: true })
  .refine((d) => d >= '1900-01-01', 'must not be before 1900-01-01')
  .refine((d) => d <= japanDateOf(new Date()), 'must not be in the future');

/** Years a filter over recorded history may name (the operation log's windows); 0000 or 9999 never. */
const HISTORY_YEARS = { min: 1900, max: SUPPORTED_YEARS.max } as const;
const realDate = z.iso.date();
const WINDOW_INSTANT = /^(\d{4}-\d{2}-\d{2})(?:T(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d))?$/;

/**
 * A bound of a window over recorded history: a real date (midnight UTC) or a real date and time
 * with Z or an offset, e.g. 2026-11-30 or 2026-11-30T00:00:00+09:00.
 */
export const windowInstant = z
  .string()
  .max(40)
  .refine((s) => {
    const m = WINDOW_INSTANT.exec(s);
    return Boolean(m && realDate.safeParse(m[1]).success);
  }, { message: 'must be a real ISO 8601 date, or date and time with Z or an offset, e.g. 2026-11-30T00:00:00Z', abort: true })
  .refine((s) => yearOf(s) >= HISTORY_YEARS.min && yearOf(s) <= HISTORY_YEARS.max, `must be in the years ${HISTORY_YEARS.min}-${HISTORY_YEARS.max}`);
