import { PasswordHasher } from '../../lib/password-hash';

describe('the password hasher', () => {
  it('runs at most `concurrency` argon2 computations, queues `queue` more, and refuses the next with 429 rate_limited', async () => {
    const hasher = new PasswordHasher({ concurrency: 2, queue: 3 });
    const hashed = await hasher.hash('Some-password-2026!');
    const accepted = Array.from({ length: 5 }, () => hasher.verify(hashed, 'Some-password-2026!'));
    expect(hasher.load).toEqual({ running: 2, waiting: 3 });
    await expect(hasher.verify(hashed, 'Some-password-2026!')).rejects.toMatchObject({
      status: 429,
      code: 'rate_limited',
      headers: { 'Retry-After': '1' },
    });
    expect(await Promise.all(accepted)).toEqual([true, true, true, true, true]);
    expect(hasher.load).toEqual({ running: 0, waiting: 0 });
  });
});
