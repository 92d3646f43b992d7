import { z } from 'zod';

/** Our ids are UUIDs; anything else cannot name a row, so it is "not found" without a query. */
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (s: string) => UUID_RE.test(s);

/**
 * One spelling of an id: a UUID in lower case, anything else as it is. PostgreSQL reads a uuid in
 * any case, but an id also keys text — a sealed field's associated data, a workflow id, a log
 * entry's target — so an upper-case id from a request sealed a field no read could open again
 * and started a second onboarding workflow. Every id a request gives passes through here.
 */
export const canonicalId = (s: string) => (isUuid(s) ? s.toLowerCase() : s);

/** An id as a request gives it (path, query or body), at most `max` characters, in one spelling. */
export const idInput = (max = 64) => z.string().max(max).transform(canonicalId);

/** A field that must be a UUID, in one spelling. */
export const uuidInput = () => z.string().uuid().transform((s) => s.toLowerCase());

/**
 * The scope of a clinic that does not exist (logins to unknown clinics run and are recorded in
 * it): no clinic has this id, so row-level security shows no clinic's rows there.
 */
export const NO_CLINIC = '00000000-0000-0000-0000-000000000000';
