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

/** A moment of a schedule: ISO 8601 with Z or an offset, on a day that exists. */
export const scheduleInstant = z.iso
  .datetime({ offset: true, message: 'must be a real date and time with Z or an offset, like 2026-12-01T09:00:00+09:00', abort: true })
  .refine(inScheduleYears, yearsMessage);

/** A date of birth: a real date, not before 1900 and not after today in Japan. */
export const birthDate = z.iso
  .date({ message: 'must be a real date like 1980-04-01', abort: true })
  .refine((d) => d >= '1900-01-01', 'must not be before 1900-01-01')
  .refine((d) => d <= japanDateOf(new Date()), 'must not be in the future');
