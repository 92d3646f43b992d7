import type { Db } from './connection';

/**
 * Fixed-window counters in PostgreSQL, so every API instance sees the same count.
 * Not tenant-owned: keys are about client addresses, across clinics.
 */
const windowStart = (windowSeconds: number) => new Date(Math.floor(Date.now() / (windowSeconds * 1000)) * windowSeconds * 1000);

export async function rateLimitCount(db: Db, key: string, windowSeconds: number): Promise<number> {
  const row = await db('rate_limits').where({ key, window_start: windowStart(windowSeconds) }).first('count');
  return row?.count ?? 0;
}

export async function rateLimitHit(db: Db, key: string, windowSeconds: number): Promise<number> {
  // Old windows are swept now and then by the writers themselves, so the table stays small
  // without a job of its own.
  if (Math.random() < 0.01) await pruneRateLimits(db, Math.max(windowSeconds * 2, 86_400));
  const { rows } = await db.raw(
    `insert into rate_limits (key, window_start, count) values (?, ?, 1)
     on conflict (key, window_start) do update set count = rate_limits.count + 1
     returning count`,
    [key, windowStart(windowSeconds)],
  );
  return rows[0].count;
}

/** Seconds until the current window ends (for Retry-After). */
export const secondsLeftInWindow = (windowSeconds: number) =>
  Math.max(1, Math.ceil((windowStart(windowSeconds).getTime() + windowSeconds * 1000 - Date.now()) / 1000));

export async function pruneRateLimits(db: Db, olderThanSeconds: number): Promise<number> {
  return db('rate_limits').where('window_start', '<', new Date(Date.now() - olderThanSeconds * 1000)).delete();
}
