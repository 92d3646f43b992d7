import { countAccountFailure, countLoginIdFailure } from '../../db/login-failures';
import { withTenant } from '../../db/tenant-scope';
import { insertTenant } from '../../db/tenants';
import { NO_CLINIC } from '../../domain/ids';
import { DEFAULT_PASSWORD_POLICY } from '../../domain/password-policy';
import { createTestDatabase, type TestDatabase } from '../harness/database';

/**
 * The lockout rule as the database applies it, one statement per failure (db/login-failures.ts).
 * Time is moved by rewriting the rows' timestamps, never by waiting.
 */
let t: TestDatabase;
let clinic: string;
let accountId: string;
const lockout = DEFAULT_PASSWORD_POLICY.lockout; // 5 failures, 60 s doubling to 900 s, reset after 12 h

beforeAll(async () => {
  t = await createTestDatabase();
  clinic = (await insertTenant(t.db, { slug: 'lockout-sql', name: 'L', contractEmails: ['l@l.example'] })).id;
  [{ id: accountId }] = await t.ownerDb('accounts')
    .insert({ tenant_id: clinic, login_id: 'taro', email: 'taro@x.example', display_name: 'Taro', roles: ['staff'], password_hash: 'x' })
    .returning('id');
});
afterAll(async () => {
  await t?.drop();
});

/** Ends the current lock, as if its time had passed (the count stays). */
const endLock = (table: 'accounts' | 'login_failures') => t.ownerDb(table).update({ locked_until: t.ownerDb.raw(`now() - interval '1 second'`) });

describe.each([
  ['an account', 'accounts' as const, () => withTenant(t.db, clinic, (trx) => countAccountFailure(trx, accountId, lockout))],
  ['a login ID without an account', 'login_failures' as const, () => withTenant(t.db, clinic, (trx) => countLoginIdFailure(trx, 'hmac-of-nobody', lockout))],
])('failures of %s', (_what, table, fail) => {
  it('lock on every 5th counted failure for 60 s, doubling up to 15 min; while locked nothing is counted', async () => {
    const waits: number[] = [];
    for (let i = 1; i <= 30; i += 1) {
      const before = Date.now();
      const r = await fail();
      expect([i, r.counted, r.failedLoginCount]).toEqual([i, true, i]);
      expect(r.lockedNow).toBe(i % 5 === 0);
      if (!r.lockedNow) continue;
      waits.push(Math.round((r.lockedUntil!.getTime() - before) / 1000));
      expect(r.lockouts).toBe(i / 5);
      const refused = await fail();
      expect([refused.counted, refused.lockedNow, refused.failedLoginCount, refused.lockedUntil]).toEqual([false, false, i, r.lockedUntil]);
      await endLock(table);
    }
    expect(waits).toEqual([60, 120, 240, 480, 900, 900]);
  });

  it('forget failures after failureResetSeconds without one', async () => {
    await t.ownerDb(table).update({ failed_login_count: 4, locked_until: null, last_failed_login_at: t.ownerDb.raw(`now() - interval '13 hours'`) });
    const r = await fail();
    expect([r.counted, r.failedLoginCount, r.lockedNow, r.lockedUntil]).toEqual([true, 1, false, null]);
  });
});

it('keeps the counters of clinics that do not exist apart from every clinic\'s', async () => {
  await withTenant(t.db, NO_CLINIC, (trx) => countLoginIdFailure(trx, 'hmac-elsewhere', lockout));
  const seen = await withTenant(t.db, clinic, (trx) => trx('login_failures').select('login_key'));
  expect(seen.map((r: { loginKey: string }) => r.loginKey)).toEqual(['hmac-of-nobody']);
});
