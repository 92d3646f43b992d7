import type { Db } from './connection';

/**
 * Window counters in PostgreSQL, so every API instance sees the same count. Not tenant-owned:
 * keys are about client addresses, across clinics.
 */
const windowStart = (windowSeconds: number, now = Date.now()) => new Date(Math.floor(now / (windowSeconds * 1000)) * windowSeconds * 1000);

/**
 * The counts of several keys in one round trip (absent keys count 0), over a sliding window: the
 * current window's count plus the previous one's weighted by how much of it still lies within one
 * window of now, rounded up. With fixed windows alone every count fell to 0 at the boundary, so
 * an attacker timing the boundary had twice the limit (and a test near it saw its own count vanish).
 */
export async function rateLimitCounts(db: Db, keys: string[], windowSeconds: number, now = Date.now()): Promise<Map<string, number>> {
  const current = windowStart(windowSeconds, now);
  const previous = new Date(current.getTime() - windowSeconds * 1000);
  const rows: Array<{ key: string; windowStart: Date; count: number }> = await db('rate_limits')
    .whereIn('key', keys)
    .whereIn('window_start', [current, previous])
    .select('key', 'window_start', 'count');
  const previousWeight = 1 - (now - current.getTime()) / (windowSeconds * 1000);
  return new Map(
    keys.map((k) => {
      const of = (start: Date) => rows.find((r) => r.key === k && r.windowStart.getTime() === start.getTime())?.count ?? 0;
      return [k, Math.ceil(of(current) + of(previous) * previousWeight)];
    }),
  );
}

/** Counts one event against each key, in one statement. */
export async function rateLimitHits(db: Db, keys: string[], windowSeconds: number, now = Date.now()): Promise<void> {
  if (keys.length === 0) return;
  // Old windows are swept now and then by the writers themselves, so the table stays small
  // without a job of its own.
  if (Math.random() < 0.01) await pruneRateLimits(db, Math.max(windowSeconds * 2, 86_400));
  const start = windowStart(windowSeconds, now);
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
