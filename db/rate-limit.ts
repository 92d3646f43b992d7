import type { Db } from './connection';

/**
 * Window counters in PostgreSQL, so every API instance sees the same count. Not tenant-owned:
 * keys are about client addresses, across clinics.
 */
const windowStart = (windowSeconds: number, now = Date.now()) => new Date(Math.floor(now / (windowSeconds * 1000)) * windowSeconds * 1000);

/** The one order rows are locked in, whatever the database's collation. */
const LOCK_ORDER = 'collate "C"';

/**
 * Takes one attempt against each key before the attempt runs, and answers the counts including
 * it, over a sliding window: the current window's count plus the previous one's weighted by how
 * much of it still lies within one window of now, rounded up (with fixed windows alone every count
 * fell to 0 at the boundary, twice the limit for an attacker timing it). Counting only after the
 * attempt let a burst sent at once all pass the check before any of them was counted (60 parallel
 * guesses against a limit of 20 got 55 answers). The caller gives the attempt back
 * (refundRateLimits) when it should not count: a success, or a refusal that counts against some
 * keys only.
 */
export interface TakenLimits {
  counts: Map<string, number>;
  windowStart: Date;
  /**
   * For a refused attempt (given back): seconds until the first of these throttles that is over
   * its limit lets one more attempt through, if nobody tries meanwhile; the longest of them.
   */
  retryAfter: (throttles: Array<{ key: string; limit: number }>) => number;
}

export async function takeRateLimits(db: Db, keys: string[], windowSeconds: number, now = Date.now()): Promise<TakenLimits> {
  const current = windowStart(windowSeconds, now);
  const previous = new Date(current.getTime() - windowSeconds * 1000);
  if (keys.length === 0) return { counts: new Map(), windowStart: current, retryAfter: () => 1 };
  if (Math.random() < 0.01) await pruneRateLimits(db, Math.max(windowSeconds * 2, 86_400));
  // Rows are locked in one order (the keys' byte order, LOCK_ORDER) here and where attempts are
  // given back: two logins sharing keys (the clinic's, an address, a login ID) that locked them in
  // different orders deadlocked, and PostgreSQL failed one of them (a 500 to a login).
  const { rows } = await db.raw(
    `with taken as (
       insert into rate_limits (key, window_start, count)
       select k, ?::timestamptz, 1 from unnest(?::text[]) as k order by k ${LOCK_ORDER}
       on conflict (key, window_start) do update set count = rate_limits.count + 1
       returning key, count)
     select t.key, t.count as current, coalesce(p.count, 0) as previous
       from taken t left join rate_limits p on p.key = t.key and p.window_start = ?`,
    [current, [...new Set(keys)], previous],
  );
  const previousWeight = 1 - (now - current.getTime()) / (windowSeconds * 1000);
  const raw = new Map((rows as Array<{ key: string; current: number; previous: number }>).map((r) => [r.key, { current: r.current, previous: r.previous }]));
  const byKey = new Map([...raw].map(([k, r]) => [k, Math.ceil(r.current + r.previous * previousWeight)]));
  return {
    counts: new Map(keys.map((k) => [k, byKey.get(k) ?? 1])),
    windowStart: current,
    retryAfter: (throttles) =>
      Math.max(
        1,
        ...throttles.map((t) => {
          const r = raw.get(t.key) ?? { current: 1, previous: 0 };
          // The refused attempt is given back: what stays counted is one less. Nor do other refused
          // attempts of a burst stay (each is given back too), so no more than the limit stays.
          return secondsUntilAllowed({ current: Math.min(r.current - 1, t.limit), previous: r.previous }, t.limit, windowSeconds, current.getTime(), now);
        }),
      ),
  };
}

/**
 * When the sliding count (current + previous × the share of the previous window still within
 * one window of now) lets one more attempt (+1) through without exceeding `limit`, if none is
 * counted meanwhile: later in this window as the previous one slides out, or in the next one as
 * this one does. Seconds from `now`, at least 1. (The fixed window's remainder said "retry in 3 s"
 * at the boundary when the sliding count would still refuse for minutes.)
 */
export function secondsUntilAllowed(counts: { current: number; previous: number }, limit: number, windowSeconds: number, windowStartMs: number, now: number): number {
  const w = windowSeconds * 1000;
  let at: number;
  if (counts.current + 1 <= limit) {
    // This window: current + 1 + previous × (1 − f) ≤ limit.
    const f = counts.previous > 0 ? 1 - (limit - counts.current - 1) / counts.previous : 0;
    at = windowStartMs + Math.max(0, f) * w;
  } else {
    // The next window: 1 + current × (1 − f) ≤ limit.
    const f = counts.current > 0 ? 1 - (limit - 1) / counts.current : 0;
    at = windowStartMs + w + Math.max(0, f) * w;
  }
  return Math.max(1, Math.ceil((at - now) / 1000));
}

/** Gives back attempts taken by takeRateLimits (in the window they were taken in). */
export async function refundRateLimits(db: Db, keys: string[], taken: Date): Promise<void> {
  if (keys.length === 0) return;
  // Locked first, in takeRateLimits' order, then changed (an UPDATE … WHERE key IN locks rows in
  // whatever order its scan meets them).
  await db.raw(
    `update rate_limits r set count = r.count - 1
       from (select key, window_start from rate_limits
              where key = any(?::text[]) and window_start = ? and count > 0
              order by key ${LOCK_ORDER} for update) l
      where r.key = l.key and r.window_start = l.window_start`,
    [[...new Set(keys)], taken],
  );
}

/**
 * Forgets the counters about one clinic (its logins, its login IDs' HMACs, its incident reports):
 * a purged clinic leaves nothing keyed by its id behind. Every such key names the clinic as one
 * `:`-separated segment (`login:clinic:<id>`, `login:id:<id>:<hmac>`, …).
 */
export async function forgetClinicRateLimits(db: Db, tenantId: string): Promise<number> {
  return db('rate_limits').whereLike('key', `%:${tenantId}`).orWhereLike('key', `%:${tenantId}:%`).delete();
}

export async function pruneRateLimits(db: Db, olderThanSeconds: number): Promise<number> {
  return db('rate_limits').where('window_start', '<', new Date(Date.now() - olderThanSeconds * 1000)).delete();
}
