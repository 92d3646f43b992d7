/** Our ids are UUIDs; anything else cannot name a row, so it is "not found" without a query. */
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (s: string) => UUID_RE.test(s);

/**
 * The scope of a clinic that does not exist (logins to unknown clinics run and are recorded in
 * it): no clinic has this id, so row-level security shows no clinic's rows there.
 */
export const NO_CLINIC = '00000000-0000-0000-0000-000000000000';
