import { isUtf8 } from 'node:buffer';
import { invalidCursor } from './problems';
import { isUuid } from './ids';
import { SUPPORTED_YEARS } from './japan-time';

/**
 * Keyset pagination on (created_at, id). The cursor is opaque to clients (base64url JSON) and
 * keeps created_at at PostgreSQL's microsecond precision, so no row is skipped or repeated.
 * Every cursor decoder lives here and checks what it decodes as strictly as a request field:
 * a cursor is client input, and a malformed one is `400 invalid_cursor`, never a query.
 */
export interface Keyset {
  createdAt: string;
  id: string;
}


/** SQL selecting the cursor column at full precision (add to a query's select list). */
export const CURSOR_TS_SQL = `to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_ts`;

export function encodeCursor(k: Keyset): string {
  return Buffer.from(JSON.stringify([k.createdAt, k.id])).toString('base64url');
}

/** Exactly what CURSOR_TS_SQL writes: UTC with microseconds. */
const CURSOR_TS = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{6}Z$/;

/**
 * A timestamp we could have written into a cursor: our exact format, a moment that exists, in a
 * year our rows can have. Anything else would reach PostgreSQL as an unparseable or out-of-range
 * timestamp (a 500), or as a different moment than the client meant.
 */
function isCursorTimestamp(s: string): boolean {
  const m = CURSOR_TS.exec(s);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (year < SUPPORTED_YEARS.min || year > SUPPORTED_YEARS.max) return false;
  const t = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  return t.getUTCMonth() === month - 1 && t.getUTCDate() === day && t.getUTCHours() === hour && t.getUTCMinutes() === minute && t.getUTCSeconds() === second;
}

/** What a client's cursor decodes to, as text; an undecodable one is the caller's 400 invalid_cursor. */
function cursorText(cursor: string, maxLength = MAX_CURSOR_LENGTH): string {
  if (cursor.length > maxLength || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalidCursor();
  const bytes = Buffer.from(cursor, 'base64url');
  // Ours are UTF-8; anything else would be read with U+FFFD in it, another text than was sent.
  if (!isUtf8(bytes)) throw invalidCursor();
  return bytes.toString('utf8');
}

/** The longest cursor a list takes; lists by name take longer ones (MAX_NAME_CURSOR_LENGTH). */
export const MAX_CURSOR_LENGTH = 512;

/** The keyset a client's cursor stands for; 400 invalid_cursor for anything malformed. */
export function decodeCursor(cursor: string | undefined): Keyset | undefined {
  if (cursor === undefined) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(cursorText(cursor));
  } catch {
    throw invalidCursor();
  }
  if (Array.isArray(decoded) && decoded.length === 2) {
    const [createdAt, id] = decoded as unknown[];
    if (typeof createdAt === 'string' && isCursorTimestamp(createdAt) && typeof id === 'string' && isUuid(id)) return { createdAt, id };
  }
  throw invalidCursor();
}

/** A cursor for lists ordered by id alone: the last id seen, opaque to clients (base64url). */
export const encodeIdCursor = (id: string) => Buffer.from(id).toString('base64url');

export function decodeIdCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const id = cursorText(cursor);
  if (!isUuid(id)) throw invalidCursor();
  return id;
}

/** A cursor for lists ordered by a sequence number (the operation log): `s:<seq>`, base64url. */
export const encodeSeqCursor = (seq: string | number) => Buffer.from(`s:${seq}`).toString('base64url');

/** The sequence number, as a decimal string that fits PostgreSQL's bigint. */
export function decodeSeqCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const m = /^s:([1-9]\d{0,17})$/.exec(cursorText(cursor));
  if (!m) throw invalidCursor();
  return m[1];
}

/**
 * A cursor for lists ordered by a name, then id (groups, doctors): the last name and id of the
 * page, opaque to clients (base64url JSON). Names are not unique everywhere (two doctors may share
 * one), hence the id; the name rides in the cursor so that a row renamed or deleted between two
 * pages moves nothing else: the next page starts where the last one ended, whatever became of it.
 */
export interface NameKeyset {
  name: string;
  id: string;
}

/**
 * Names are at most 100 UTF-16 units (domain/fields.ts), at most 300 bytes as JSON with their
 * escapes: with the id about 460 base64url characters. Room beyond that costs nothing.
 */
export const MAX_NAME_CURSOR_LENGTH = 1024;
/** Longer than any name we store, so a cursor of ours always decodes; never more. */
const MAX_CURSOR_NAME = 200;

export const encodeNameCursor = (k: NameKeyset) => Buffer.from(JSON.stringify([k.name, k.id])).toString('base64url');

/** The name and id a client's cursor stands for; 400 invalid_cursor for anything we could not have written. */
export function decodeNameCursor(cursor: string | undefined): NameKeyset | undefined {
  if (cursor === undefined) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(cursorText(cursor, MAX_NAME_CURSOR_LENGTH));
  } catch {
    throw invalidCursor();
  }
  if (Array.isArray(decoded) && decoded.length === 2) {
    const [name, id] = decoded as unknown[];
    // Control characters (NUL above all, which PostgreSQL's text refuses) and lone surrogates are in no stored name.
    const storable = typeof name === 'string' && name.length > 0 && [...name].length <= MAX_CURSOR_NAME && !/[\u0000-\u001f\u007f-\u009f\uD800-\uDFFF]/u.test(name);
    if (storable && typeof id === 'string' && isUuid(id)) return { name, id };
  }
  throw invalidCursor();
}
