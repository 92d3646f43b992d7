import { createHash } from 'node:crypto';
import { SessionAuthCache } from '../../db/session-auth-cache';

/** The API's kept sign-in answers: bounded, least recently used out first, keyed by the token's hash. */
const hash = (token: string) => createHash('sha256').update(token).digest();
const answer = (n: number) => ({ tenantId: 't', generation: String(n), record: { n } });

describe('SessionAuthCache', () => {
  it('holds at most maxEntries, dropping the least recently used', () => {
    const cache = new SessionAuthCache<{ n: number }>(2);
    cache.set(hash('a'), answer(1));
    cache.set(hash('b'), answer(2));
    expect(cache.get(hash('a'))?.record.n).toBe(1); // a is now the most recent
    cache.set(hash('c'), answer(3));
    expect(cache.size).toBe(2);
    expect(cache.get(hash('b'))).toBeUndefined();
    expect(cache.get(hash('a'))?.record.n).toBe(1);
    expect(cache.get(hash('c'))?.record.n).toBe(3);
  });

  it('replaces an answer kept for the same token, and forgets one on delete', () => {
    const cache = new SessionAuthCache<{ n: number }>(5);
    cache.set(hash('a'), answer(1));
    cache.set(hash('a'), answer(2));
    expect(cache.size).toBe(1);
    expect(cache.get(hash('a'))?.generation).toBe('2');
    cache.delete(hash('a'));
    expect(cache.get(hash('a'))).toBeUndefined();
  });

  it('refuses a size that is not a positive whole number', () => {
    expect(() => new SessionAuthCache(0)).toThrow(/positive integer/);
    expect(() => new SessionAuthCache(1.5)).toThrow(/positive integer/);
  });
});
