/** The stages of an account's way in; shared by the database, the API and the onboarding workflow. */
export const ONBOARDING_STATES = [
  'awaiting_first_login',
  'initial_password_expired',
  'password_change_required',
  'second_factor_enrollment_required',
  'active',
] as const;
export type OnboardingState = (typeof ONBOARDING_STATES)[number];
