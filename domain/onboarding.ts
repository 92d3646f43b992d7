/** The stages of an account's way in; shared by the database, the API and the onboarding workflow. */
export const ONBOARDING_STATES = [
  'awaiting_first_login',
  'initial_password_expired',
  'password_change_required',
  'second_factor_enrollment_required',
  'active',
] as const;
export type OnboardingState = (typeof ONBOARDING_STATES)[number];

/** What happened to the account, as the API records it and the onboarding workflow hears it. */
export type OnboardingFact =
  | { kind: 'firstLogin' }
  | { kind: 'passwordChanged'; secondFactorRequired: boolean }
  | { kind: 'passkeyRegistered' };

/** How far along the way in a stage is; an expired initial password has not got further than waiting for it. */
const PROGRESS: Record<OnboardingState, number> = {
  awaiting_first_login: 0,
  initial_password_expired: 0,
  password_change_required: 1,
  second_factor_enrollment_required: 2,
  active: 3,
};

/** The stage a fact proves the account has reached at least. */
function reachedBy(fact: OnboardingFact): OnboardingState {
  if (fact.kind === 'firstLogin') return 'password_change_required';
  if (fact.kind === 'passwordChanged') return fact.secondFactorRequired ? 'second_factor_enrollment_required' : 'active';
  return 'active';
}

/**
 * Applies a fact monotonically: the stage only ever moves forward (only an administrator's reset
 * starts it over), so a fact that arrives late, early or twice cannot move it back or strand it.
 * A password change heard before the first login still counts; a repeated one changes nothing.
 */
export function advanceOnboarding(state: OnboardingState, fact: OnboardingFact): OnboardingState {
  const reached = reachedBy(fact);
  return PROGRESS[reached] > PROGRESS[state] ? reached : state;
}
