import { isLocked } from './lockout';
import { MAX_PASSWORD_LENGTH, secondFactorRequired, type PasswordPolicy } from './password-policy';

/**
 * Signing in: what a session may do, and why a login is refused. Plain rules; the application
 * layer feeds them the account as the database holds it.
 */
export const SESSION_STATES = ['active', 'password_change_required', 'second_factor_enrollment_required', 'second_factor_required'] as const;
export type SessionState = (typeof SESSION_STATES)[number];

interface PasswordFacts {
  passwordIsInitial: boolean;
  passwordChangedAt: Date;
  roles: readonly string[];
}

/** What a freshly authenticated account must do before it may use the service. */
export function stateAfterPassword(account: PasswordFacts, policy: PasswordPolicy, passkeys: number, now: Date): SessionState {
  const expired = policy.maxAgeSeconds > 0 && account.passwordChangedAt.getTime() + policy.maxAgeSeconds * 1000 <= now.getTime();
  if (account.passwordIsInitial || expired) return 'password_change_required';
  return stateAfterPasswordChange(account, policy, passkeys);
}

/** After the password is settled: a passkey to enrol, one to present, or nothing. */
export function stateAfterPasswordChange(account: Pick<PasswordFacts, 'roles'>, policy: PasswordPolicy, passkeys: number): SessionState {
  if (passkeys > 0) return 'second_factor_required';
  return secondFactorRequired(policy, account.roles) ? 'second_factor_enrollment_required' : 'active';
}

/** Longer candidates are refused without the cost of hashing them (a cheap denial-of-service otherwise). */
export const worthVerifying = (password: string) => password.length <= MAX_PASSWORD_LENGTH * 4;

export type LoginRefusal = 'locked' | 'wrong_password' | 'disabled' | 'initial_password_expired';

/**
 * Why a login with this password result is refused, or undefined if it is not. A locked account
 * is only reported as locked to someone who knows its password; everyone else learns nothing.
 */
export function loginRefusal(
  account: { disabled: boolean; lockedUntil: Date | null; passwordIsInitial: boolean; initialPasswordExpiresAt: Date | null },
  passwordOk: boolean,
  now: Date,
): LoginRefusal | undefined {
  if (!passwordOk) return 'wrong_password';
  if (isLocked(account, now)) return 'locked';
  if (account.disabled) return 'disabled';
  if (account.passwordIsInitial && account.initialPasswordExpiresAt !== null && account.initialPasswordExpiresAt <= now) return 'initial_password_expired';
  return undefined;
}

/** A passkey may go unless it is the last one of an account the clinic requires two-step verification of. */
export const mayRemovePasskey = (policy: PasswordPolicy, roles: readonly string[], passkeys: number) => passkeys > 1 || !secondFactorRequired(policy, roles);
