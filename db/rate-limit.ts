import type { Db } from './connection';

/**
 * Window counters in PostgreSQL, so every API instance sees the same count. Not tenant-owned:
 * keys are about client addresses, across clinics.
 */
const windowStart = (windowSeconds: number, now = Date.now()) => new Date(Math.floor(now / (windowSeconds * 1000)) * windowSeconds * 1000);

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
export async function takeRateLimits(db: Db, keys: string[], windowSeconds: number, now = Date.now()): Promise<{ counts: Map<string, number>; windowStart: Date }> {
  const current = windowStart(windowSeconds, now);
  const previous = new Date(current.getTime() - windowSeconds * 1000);
  if (keys.length === 0) return { counts: new Map(), windowStart: current };
  if (Math.random() < 0.01) await pruneRateLimits(db, Math.max(windowSeconds * 2, 86_400));
  const { rows } = await db.raw(
    `with taken as (
       insert into rate_limits (key, window_start, count) values ${keys.map(() => '(?, ?, 1)').join(', ')}
       on conflict (key, window_start) do update set count = rate_limits.count + 1
       returning key, count)
     select t.key, t.count as current, coalesce(p.count, 0) as previous
       from taken t left join rate_limits p on p.key = t.key and p.window_start = ?`,
    [...keys.flatMap((k) => [k, current]), previous],
  );
  const previousWeight = 1 - (now - current.getTime()) / (windowSeconds * 1000);
  const byKey = new Map((rows as Array<{ key: string; current: number; previous: number }>).map((r) => [r.key, Math.ceil(r.current + r.previous * previousWeight)]));
  return { counts: new Map(keys.map((k) => [k, byKey.get(k) ?? 1])), windowStart: current };
}

/** Gives back attempts taken by takeRateLimits (in the window they were taken in). */
export async function refundRateLimits(db: Db, keys: string[], taken: Date): Promise<void> {
  if (keys.length === 0) return;
  await db('rate_limits').whereIn('key', keys).where({ window_start: taken }).where('count', '>', 0).decrement('count', 1);
}

/** Seconds until the current window ends (for Retry-After). */
export const secondsLeftInWindow = (windowSeconds: number) =>
  Math.max(1, Math.ceil((windowStart(windowSeconds).getTime() + windowSeconds * 1000 - Date.now()) / 1000));

export async function pruneRateLimits(db: Db, olderThanSeconds: number): Promise<number> {
  return db('rate_limits').where('window_start', '<', new Date(Date.now() - olderThanSeconds * 1000)).delete();
}
