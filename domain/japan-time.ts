/**
 * Japan time in one place. Clinics think in Japanese calendar days and wall-clock times; the
 * system stores UTC instants. Every conversion goes through the IANA zone 'Asia/Tokyo' (Intl),
 * never through a fixed offset written in code, so this file is the only one that knows how the
 * two relate.
 *
 * A calendar date is a string 'YYYY-MM-DD' that must exist (no 2026-02-30). Dates named by
 * callers (japanDayRange, isJapanDate) must also lie in SUPPORTED_YEARS; the arithmetic helpers
 * accept any existing date, so instants computed from other instants never fail on the year.
 */
export const JAPAN_TIME_ZONE = 'Asia/Tokyo';

/** Years a caller may name. Outside them a date is a typo or an attack, never a booking. */
export const SUPPORTED_YEARS = { min: 2000, max: 2100 } as const;

const DAY_MS = 86_400_000;

const wallClockFormat = new Intl.DateTimeFormat('en-US', {
  timeZone: JAPAN_TIME_ZONE,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

interface Parts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function zoneParts(instant: Date): Parts {
  const out: Record<string, number> = {};
  for (const p of wallClockFormat.formatToParts(instant)) {
    if (p.type !== 'literal') out[p.type] = Number(p.value);
  }
  return out as unknown as Parts;
}

/**
 * The zone's offset from UTC (ms) at the start of each hour, as Intl reports it. Intl's
 * formatToParts costs microseconds, and an export formats millions of instants; within an hour
 * whose two ends have the same offset there is no transition (no zone has ever changed its offset
 * and back within an hour), so the wall clock there is UTC plus that offset. Bounded: cleared when full.
 */
const SPAN_MS = 60 * 60_000;
const spanOffsets = new Map<number, number>();
function offsetAtSpan(span: number): number {
  let offset = spanOffsets.get(span);
  if (offset === undefined) {
    const at = span * SPAN_MS;
    const p = zoneParts(new Date(at));
    // setUTCFullYear, not Date.UTC: that one reads years 0–99 as 1900–1999.
    const wall = new Date(0);
    wall.setUTCFullYear(p.year, p.month - 1, p.day);
    wall.setUTCHours(p.hour, p.minute, p.second, 0);
    offset = wall.getTime() - at;
    if (spanOffsets.size >= 10_000) spanOffsets.clear();
    spanOffsets.set(span, offset);
  }
  return offset;
}

function partsOf(instant: Date): Parts {
  const ms = instant.getTime();
  if (Number.isNaN(ms)) throw new RangeError('not a valid instant');
  const span = Math.floor(ms / SPAN_MS);
  const offset = offsetAtSpan(span);
  // A transition inside this span (never since 1951 in Japan): ask Intl for this instant itself.
  if (offset !== offsetAtSpan(span + 1)) return zoneParts(instant);
  const wall = new Date(ms + offset);
  return { year: wall.getUTCFullYear(), month: wall.getUTCMonth() + 1, day: wall.getUTCDate(), hour: wall.getUTCHours(), minute: wall.getUTCMinutes(), second: wall.getUTCSeconds() };
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');
const dateString = (year: number, month: number, day: number) => `${pad(year, 4)}-${pad(month)}-${pad(day)}`;

/** The year of `value` if it is an existing calendar date 'YYYY-MM-DD', else undefined. */
function calendarYear(value: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12 || day < 1) return undefined;
  // Calendar arithmetic only (no zone): a day past the end of the month rolls over.
  const check = new Date(`${m[1]}-${m[2]}-01T00:00:00Z`);
  check.setUTCDate(day);
  return check.getUTCMonth() === month - 1 && check.getUTCDate() === day ? year : undefined;
}

/** Is `value` an existing calendar date 'YYYY-MM-DD' in SUPPORTED_YEARS? */
export function isJapanDate(value: string): boolean {
  const year = calendarYear(value);
  return year !== undefined && year >= SUPPORTED_YEARS.min && year <= SUPPORTED_YEARS.max;
}

function assertCalendarDate(value: string): void {
  if (calendarYear(value) === undefined) throw new RangeError(`"${value}" is not a date YYYY-MM-DD that exists`);
}

function assertJapanDate(value: string): void {
  if (!isJapanDate(value)) {
    throw new RangeError(`"${value}" is not a date YYYY-MM-DD that exists, between ${SUPPORTED_YEARS.min} and ${SUPPORTED_YEARS.max}`);
  }
}

/** The calendar date `days` after (or before) `date`. */
export function addDays(date: string, days: number): string {
  assertCalendarDate(date);
  const d = new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS);
  return dateString(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
}

/** The weekday of a calendar date: 0 = Sunday … 6 = Saturday (a property of the date, not of a zone). */
export function weekdayOf(date: string): number {
  assertCalendarDate(date);
  return new Date(`${date}T00:00:00Z`).getUTCDay();
}

/** Japan's offset from UTC at `instant`, in milliseconds, as the zone database says. */
function offsetAt(instant: number): number {
  const p = partsOf(new Date(instant));
  const asUtc = Date.parse(`${dateString(p.year, p.month, p.day)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}Z`);
  return asUtc - Math.floor(instant / 1000) * 1000; // the wall clock shows whole seconds
}

/**
 * The instant at which it is `minutes` past midnight of `date` on a wall clock in Japan.
 * Resolved through the zone's offset at that moment (twice, so a change of offset between the
 * guess and the answer is honoured).
 */
export function japanInstant(date: string, minutes = 0): Date {
  assertCalendarDate(date);
  if (!Number.isInteger(minutes) || minutes < 0 || minutes > 24 * 60) throw new RangeError(`minutes must be an integer 0..1440, got ${minutes}`);
  const wall = Date.parse(`${date}T00:00:00Z`) + minutes * 60_000;
  const first = wall - offsetAt(wall);
  const second = wall - offsetAt(first);
  return new Date(second);
}

/**
 * The instants a Japanese calendar day covers: [start, end), start at 00:00 Japan time and end
 * at 00:00 of the next day. Throws RangeError for a date that does not exist or is out of range.
 */
export function japanDayRange(date: string): { start: Date; end: Date } {
  assertJapanDate(date);
  return { start: japanInstant(date, 0), end: japanInstant(date, 24 * 60) };
}

/** What a wall clock in Japan shows at `instant`: the date and the minutes since midnight. */
export function japanWallClock(instant: Date): { date: string; minutes: number } {
  const p = partsOf(instant);
  return { date: dateString(p.year, p.month, p.day), minutes: p.hour * 60 + p.minute };
}

/** The Japanese calendar date (YYYY-MM-DD) of an instant. */
export function japanDateOf(instant: Date): string {
  return japanWallClock(instant).date;
}

/** Year, month, day, hour, minute, second on a wall clock in Japan (e.g. for ZIP entry times). */
export function japanClockParts(instant: Date): Parts {
  return partsOf(instant);
}

/** 'YYYY-MM-DD HH:MM' on a wall clock in Japan, for people (mails, exports). */
export function formatJapanDateTime(instant: Date): string {
  const p = partsOf(instant);
  return `${dateString(p.year, p.month, p.day)} ${pad(p.hour)}:${pad(p.minute)}`;
}
