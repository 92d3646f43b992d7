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
