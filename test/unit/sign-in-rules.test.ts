import { DEFAULT_PASSWORD_POLICY } from '../../domain/password-policy';
import { addressKey } from '../../domain/network';
import { isFreshlyVerified, loginIdHash, loginRefusal, mayRemovePasskey, stateAfterPassword, stateAfterPasswordChange, stateAfterSecondFactor, tooLongToVerify } from '../../domain/sign-in';

describe('sign-in rules', () => {
  const now = new Date('2026-06-01T00:00:00Z');
  const account = { disabled: false, lockedUntil: null, passwordIsInitial: false, initialPasswordExpiresAt: null };

  it('reports a lockout to everyone, whatever the password, so the answer confirms no guess', () => {
    const locked = { ...account, lockedUntil: new Date(now.getTime() + 60_000) };
    expect(loginRefusal(locked, false, now)).toBe('locked');
    expect(loginRefusal(locked, true, now)).toBe('locked');
    expect(loginRefusal({ ...account, lockedUntil: now }, false, now)).toBe('wrong_password');
    expect(loginRefusal({ ...account, disabled: true }, true, now)).toBe('disabled');
    expect(loginRefusal({ ...account, passwordIsInitial: true, initialPasswordExpiresAt: now }, true, now)).toBe('initial_password_expired');
    expect(loginRefusal(account, true, now)).toBeUndefined();
  });

  it('requires a new password for an initial or too old one, then a passkey where the clinic wants one', () => {
    const policy = { ...DEFAULT_PASSWORD_POLICY, maxAgeSeconds: 60 };
    const fresh = { passwordIsInitial: false, passwordChangedAt: now, roles: ['staff'] };
    expect(stateAfterPassword({ ...fresh, passwordIsInitial: true }, policy, 0, now)).toBe('password_change_required');
    expect(stateAfterPassword(fresh, policy, 0, new Date(now.getTime() + 61_000))).toBe('password_change_required');
    expect(stateAfterPassword(fresh, policy, 0, now)).toBe('active');
    expect(stateAfterPassword(fresh, policy, 1, now)).toBe('second_factor_required');
    expect(stateAfterPassword(fresh, { ...policy, secondFactor: 'everyone' }, 0, now)).toBe('second_factor_enrollment_required');
  });

  it('asks an account with a passkey for it before a password change that is due, then for the change, then nothing', () => {
    const policy = { ...DEFAULT_PASSWORD_POLICY, maxAgeSeconds: 60, secondFactor: 'everyone' as const };
    const old = { passwordIsInitial: false, passwordChangedAt: new Date(now.getTime() - 61_000), roles: ['doctor'] };
    // The password alone (guessed, phished) must not be able to change the password and lock the holder out.
    expect(stateAfterPassword(old, policy, 1, now)).toBe('second_factor_required');
    expect(stateAfterPassword({ ...old, passwordIsInitial: true }, policy, 2, now)).toBe('second_factor_required');
    expect(stateAfterSecondFactor(old, policy, now)).toBe('password_change_required');
    expect(stateAfterSecondFactor({ ...old, passwordChangedAt: now }, policy, now)).toBe('active');
    // The change made by a session that presented its passkey ends the sign-in; one that did not still presents one.
    expect(stateAfterPasswordChange(old, policy, 1, true)).toBe('active');
    expect(stateAfterPasswordChange(old, policy, 1, false)).toBe('second_factor_required');
    expect(stateAfterPasswordChange(old, policy, 0, false)).toBe('second_factor_enrollment_required');
  });

  it('keeps the last passkey of an account that must use one', () => {
    const everyone = { ...DEFAULT_PASSWORD_POLICY, secondFactor: 'everyone' as const };
    expect(mayRemovePasskey(everyone, ['staff'], 1)).toBe(false);
    expect(mayRemovePasskey(everyone, ['staff'], 2)).toBe(true);
    expect(mayRemovePasskey(DEFAULT_PASSWORD_POLICY, ['staff'], 1)).toBe(true);
  });

  it('hashes login IDs per clinic with the platform key, never reversibly', () => {
    const key = 'k'.repeat(32);
    const h = loginIdHash(key, 'clinic-a', 'tanaka');
    expect(h).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(h).toBe(loginIdHash(key, 'clinic-a', 'tanaka'));
    expect(h).not.toBe(loginIdHash(key, 'clinic-b', 'tanaka'));
    expect(h).not.toBe(loginIdHash('j'.repeat(32), 'clinic-a', 'tanaka'));
  });

  it('refuses to hash passwords over 256 characters (code points)', () => {
    expect(tooLongToVerify('あ'.repeat(256))).toBe(false);
    expect(tooLongToVerify('x'.repeat(257))).toBe(true);
    expect(tooLongToVerify('😀'.repeat(200))).toBe(false); // 400 UTF-16 units, 200 characters
  });

  it('keys IPv6 clients by their /64 and IPv4 clients by their address', () => {
    expect(addressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2::1')).toBe(addressKey('2001:db8:1:2:ffff::9'));
    expect(addressKey('2001:db8:1:3::1')).not.toBe(addressKey('2001:db8:1:2::1'));
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
  });

  it('counts a proof as fresh for 5 minutes', () => {
    expect(isFreshlyVerified(new Date(now.getTime() - 300_000), now)).toBe(true);
    expect(isFreshlyVerified(new Date(now.getTime() - 300_001), now)).toBe(false);
  });
});
