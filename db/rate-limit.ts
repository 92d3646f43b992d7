import type { Db } from './connection';

/**
 * Fixed-window counters in PostgreSQL, so every API instance sees the same count.
 * Not tenant-owned: keys are about client addresses, across clinics.
 */
const windowStart = (windowSeconds: number) => new Date(Math.floor(Date.now() / (windowSeconds * 1000)) * windowSeconds * 1000);

/** The current window's counts of several keys in one round trip (absent keys count 0). */
export async function rateLimitCounts(db: Db, keys: string[], windowSeconds: number): Promise<Map<string, number>> {
  const rows: Array<{ key: string; count: number }> = await db('rate_limits').whereIn('key', keys).where({ window_start: windowStart(windowSeconds) }).select('key', 'count');
  return new Map(keys.map((k) => [k, rows.find((r) => r.key === k)?.count ?? 0]));
}

/** Counts one event against each key, in one statement. */
export async function rateLimitHits(db: Db, keys: string[], windowSeconds: number): Promise<void> {
  if (keys.length === 0) return;
  // Old windows are swept now and then by the writers themselves, so the table stays small
  // without a job of its own.
  if (Math.random() < 0.01) await pruneRateLimits(db, Math.max(windowSeconds * 2, 86_400));
  const start = windowStart(windowSeconds);
  await db.raw(
    `insert into rate_limits (key, window_start, count) values ${keys.map(() => '(?, ?, 1)').join(', ')}
     on conflict (key, window_start) do update set count = rate_limits.count + 1`,
    keys.flatMap((k) => [k, start]),
  );
}

/** Seconds until the current window ends (for Retry-After). */
export const secondsLeftInWindow = (windowSeconds: number) =>
  Math.max(1, Math.ceil((windowStart(windowSeconds).getTime() + windowSeconds * 1000 - Date.now()) / 1000));

export async function pruneRateLimits(db: Db, olderThanSeconds: number): Promise<number> {
  return db('rate_limits').where('window_start', '<', new Date(Date.now() - olderThanSeconds * 1000)).delete();
}
