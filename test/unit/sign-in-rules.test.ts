import { DEFAULT_PASSWORD_POLICY } from '../../domain/password-policy';
import { loginRefusal, mayRemovePasskey, stateAfterPassword } from '../../domain/sign-in';

describe('sign-in rules', () => {
  const now = new Date('2026-06-01T00:00:00Z');
  const account = { disabled: false, lockedUntil: null, passwordIsInitial: false, initialPasswordExpiresAt: null };

  it('reports a lockout only to someone who knows the password', () => {
    const locked = { ...account, lockedUntil: new Date(now.getTime() + 60_000) };
    expect(loginRefusal(locked, false, now)).toBe('wrong_password');
    expect(loginRefusal(locked, true, now)).toBe('locked');
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

  it('keeps the last passkey of an account that must use one', () => {
    const everyone = { ...DEFAULT_PASSWORD_POLICY, secondFactor: 'everyone' as const };
    expect(mayRemovePasskey(everyone, ['staff'], 1)).toBe(false);
    expect(mayRemovePasskey(everyone, ['staff'], 2)).toBe(true);
    expect(mayRemovePasskey(DEFAULT_PASSWORD_POLICY, ['staff'], 1)).toBe(true);
  });
});
