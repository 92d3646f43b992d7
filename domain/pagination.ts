import { badRequest } from './problems';
import { isUuid } from './ids';

/**
 * Keyset pagination on (created_at, id). The cursor is opaque to clients (base64url JSON) and
 * keeps created_at at PostgreSQL's microsecond precision, so no row is skipped or repeated.
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

/** The keyset a client's cursor stands for; 400 invalid_cursor for anything malformed. */
export function decodeCursor(cursor: string | undefined): Keyset | undefined {
  if (cursor === undefined) return undefined;
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'string' && !Number.isNaN(Date.parse(createdAt)) && typeof id === 'string' && isUuid(id)) {
      return { createdAt, id };
    }
  } catch {
    // fall through
  }
  throw badRequest('invalid_cursor', 'The cursor is malformed.');
}

/** A cursor for lists ordered by id alone: the last id seen, opaque to clients (base64url). */
export const encodeIdCursor = (id: string) => Buffer.from(id).toString('base64url');

export function decodeIdCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isUuid(id)) throw badRequest('invalid_cursor', 'The cursor is malformed.');
  return id;
}
