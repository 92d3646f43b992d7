import { randomBytes } from 'node:crypto';
import { rateLimitCounts, rateLimitHits } from '../../db/rate-limit';
import { createTestDatabase, type TestDatabase } from '../harness/database';

/**
 * Login throttles count over a sliding window (db/rate-limit.ts). Time is the caller's argument,
 * so the window boundary is reached without waiting for it.
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
const count = async (key: string, at: number) => (await rateLimitCounts(t.db, [key], WINDOW, at)).get(key);

it('keeps counting across a window boundary, and forgets as the previous window slides out', async () => {
  const key = `test:${randomBytes(4).toString('hex')}`;
  for (let i = 0; i < 3; i += 1) await rateLimitHits(t.db, [key], WINDOW, boundary - 2_000);
  expect(await count(key, boundary - 1_000)).toBe(3);
  // Fixed windows alone answered 0 here: a limit of 3 reset the moment the clock passed :00.
  expect(await count(key, boundary + 1_000)).toBe(3);
  await rateLimitHits(t.db, [key], WINDOW, boundary + 1_000);
  expect(await count(key, boundary + 2_000)).toBe(4);
  // Half-way through the next window half of the previous one still counts (rounded up)…
  expect(await count(key, boundary + (WINDOW / 2) * 1000)).toBe(1 + 2);
  // …and one more window on, nothing before it does.
  expect(await count(key, boundary + WINDOW * 1000 + 1_000)).toBe(1);
  expect(await count(key, boundary + 2 * WINDOW * 1000 + 1_000)).toBe(0);
});
