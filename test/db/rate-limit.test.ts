import { randomBytes } from 'node:crypto';
import { refundRateLimits, takeRateLimits } from '../../db/rate-limit';
import { createTestDatabase, type TestDatabase } from '../harness/database';

/**
 * Login throttles (db/rate-limit.ts): each attempt is taken before it runs, over a sliding window.
 * Time is the caller's argument, so the window boundary is reached without waiting for it.
 */
let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

const WINDOW = 600;
const boundary = Date.UTC(2027, 0, 1, 5, 0, 0); // a multiple of 600 s
const newKey = () => `test:${randomBytes(4).toString('hex')}`;
const take = async (key: string, at: number) => {
  const taken = await takeRateLimits(t.db, [key], WINDOW, at);
  return { count: taken.counts.get(key), windowStart: taken.windowStart };
};

it('keeps counting across a window boundary, and forgets as the previous window slides out', async () => {
  const key = newKey();
  for (let i = 1; i <= 3; i += 1) expect((await take(key, boundary - 2_000)).count).toBe(i);
  // Fixed windows alone answered 1 here: a limit of 3 reset the moment the clock passed :00.
  const fourth = await take(key, boundary + 1_000);
  expect(fourth.count).toBe(4);
  // Given back (a success), it no longer counts.
  await refundRateLimits(t.db, [key], fourth.windowStart);
  expect((await take(key, boundary + 2_000)).count).toBe(4);
  // Half-way through the next window half of the previous one still counts (rounded up)…
  expect((await take(key, boundary + (WINDOW / 2) * 1000)).count).toBe(Math.ceil(2 + 3 / 2));
  // …and one more window on, only the window before it does.
  expect((await take(key, boundary + WINDOW * 1000 + 1_000)).count).toBe(Math.ceil(1 + 2 * (1 - 1 / WINDOW)));
});

it('counts a burst sent at once one by one: each attempt sees those before it', async () => {
  const key = newKey();
  const counts = await Promise.all(Array.from({ length: 30 }, () => take(key, boundary)));
  expect(counts.map((c) => c.count).sort((a, b) => a! - b!)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
});

it('says in Retry-After when the sliding count lets the next attempt through, not when the fixed window ends', async () => {
  const key = newKey();
  const limit = [{ key, limit: 3 }];
  for (let i = 0; i < 3; i += 1) await take(key, boundary - 2_000);
  // Just after the boundary the previous window still counts in full: refused (and given back).
  const refused = await takeRateLimits(t.db, [key], WINDOW, boundary + 1_000);
  expect(refused.counts.get(key)).toBe(4);
  await refundRateLimits(t.db, [key], refused.windowStart);
  // 1 + 3 × (1 − f) ≤ 3 once a third of this window has passed: 200 s after the boundary, 199 s from now.
  expect(refused.retryAfter(limit)).toBe(199);
  // The answer holds: refused a moment before, let through then.
  const early = await takeRateLimits(t.db, [key], WINDOW, boundary + 198_000);
  expect(early.counts.get(key)).toBe(4);
  await refundRateLimits(t.db, [key], early.windowStart);
  expect((await take(key, boundary + 200_000)).count).toBe(3);
  // Over the limit within this window alone: allowed again once enough of it has slid out in the next.
  for (let i = 0; i < 2; i += 1) await take(key, boundary + 201_000);
  const full = await takeRateLimits(t.db, [key], WINDOW, boundary + 202_000);
  await refundRateLimits(t.db, [key], full.windowStart);
  // This window holds 3: in the next, 1 + 3 × (1 − f) ≤ 3 at f = 1/3, i.e. 800 s after the boundary.
  expect(full.retryAfter(limit)).toBe(800 - 202);
});

it('takes and gives back overlapping keys from many logins at once without a deadlock', async () => {
  // Logins to one clinic share its clinic key and often an address or a login ID: each takes its
  // keys in one statement and gives some back in another. Rows locked in different orders by the
  // two (VALUES order against the index scan's) deadlocked (40P01: a 500 to the login) under load.
  const keys = Array.from({ length: 6 }, newKey);
  const at = boundary + 5_000;
  const shuffled = () => [...keys].sort(() => Math.random() - 0.5).slice(0, 3 + Math.floor(Math.random() * 4));
  const failures: unknown[] = [];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = 0; i < 20; i += 1) {
        try {
          const mine = shuffled();
          const taken = await takeRateLimits(t.db, mine, WINDOW, at);
          await refundRateLimits(t.db, mine.filter(() => Math.random() < 0.7), taken.windowStart);
        } catch (err) {
          failures.push((err as { code?: string }).code ?? err);
        }
      }
    }),
  );
  expect(failures).toEqual([]);
});
