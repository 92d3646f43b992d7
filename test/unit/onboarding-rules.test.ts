import { advanceOnboarding, ONBOARDING_STATES, type OnboardingFact } from '../../domain/onboarding';

describe('onboarding facts', () => {
  const firstLogin: OnboardingFact = { kind: 'firstLogin' };
  const changed = (secondFactorRequired: boolean): OnboardingFact => ({ kind: 'passwordChanged', secondFactorRequired });
  const passkey: OnboardingFact = { kind: 'passkeyRegistered' };

  it('walks the path in order', () => {
    expect(advanceOnboarding('awaiting_first_login', firstLogin)).toBe('password_change_required');
    expect(advanceOnboarding('password_change_required', changed(true))).toBe('second_factor_enrollment_required');
    expect(advanceOnboarding('password_change_required', changed(false))).toBe('active');
    expect(advanceOnboarding('second_factor_enrollment_required', passkey)).toBe('active');
  });

  it('lets a fact heard early still count, from waiting or from an expired initial password', () => {
    for (const from of ['awaiting_first_login', 'initial_password_expired'] as const) {
      expect(advanceOnboarding(from, changed(false))).toBe('active');
      expect(advanceOnboarding(from, changed(true))).toBe('second_factor_enrollment_required');
      expect(advanceOnboarding(from, firstLogin)).toBe('password_change_required');
    }
  });

  it('never moves back: a repeated or late fact changes nothing', () => {
    for (const state of ONBOARDING_STATES) {
      for (const fact of [firstLogin, changed(true), changed(false), passkey]) {
        const next = advanceOnboarding(state, fact);
        expect(advanceOnboarding(next, fact)).toBe(next);
      }
    }
    expect(advanceOnboarding('active', firstLogin)).toBe('active');
    expect(advanceOnboarding('active', changed(true))).toBe('active');
    expect(advanceOnboarding('second_factor_enrollment_required', firstLogin)).toBe('second_factor_enrollment_required');
  });
});
