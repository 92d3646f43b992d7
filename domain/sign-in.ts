import { createHmac } from 'node:crypto';
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

/** The password is the initial one, or older than the policy allows: it must be changed before anything else. */
const passwordMustChange = (account: Omit<PasswordFacts, 'roles'>, policy: PasswordPolicy, now: Date) =>
  account.passwordIsInitial || (policy.maxAgeSeconds > 0 && account.passwordChangedAt.getTime() + policy.maxAgeSeconds * 1000 <= now.getTime());

/**
 * What a freshly authenticated account must do before it may use the service. An account with a
 * passkey presents it first, even when its password must change: otherwise the password alone
 * (guessed, phished) could change the password, which ends the holder's sessions and locks them
 * out of their own account.
 */
export function stateAfterPassword(account: PasswordFacts, policy: PasswordPolicy, passkeys: number, now: Date): SessionState {
  if (passkeys > 0) return 'second_factor_required';
  if (passwordMustChange(account, policy, now)) return 'password_change_required';
  return stateAfterPasswordChange(account, policy, passkeys);
}

/** After the passkey of a sign-in (or enrolment): the password change still due, or nothing. */
export type AfterPasskey = Extract<SessionState, 'active' | 'password_change_required'>;
export const stateAfterSecondFactor = (account: Omit<PasswordFacts, 'roles'>, policy: PasswordPolicy, now: Date): AfterPasskey =>
  passwordMustChange(account, policy, now) ? 'password_change_required' : 'active';

/**
 * After the password is settled: a passkey to enrol, one to present, or nothing. A session that
 * presented a passkey still registered has done its second step already (it changed the password
 * after it, see stateAfterPassword).
 */
export function stateAfterPasswordChange(account: Pick<PasswordFacts, 'roles'>, policy: PasswordPolicy, passkeys: number, presentedPasskey = false): SessionState {
  if (presentedPasskey) return 'active';
  if (passkeys > 0) return 'second_factor_required';
  return secondFactorRequired(policy, account.roles) ? 'second_factor_enrollment_required' : 'active';
}

/**
 * Longer candidates are never hashed (argon2 over megabytes is a cheap denial of service): they
 * are refused as wrong passwords after the same dummy verification an unknown login ID gets.
 * Counted in code points, as the policy counts them.
 */
export const tooLongToVerify = (password: string) => password.length > MAX_PASSWORD_LENGTH && [...password].length > MAX_PASSWORD_LENGTH;

export type LoginRefusal = 'locked' | 'wrong_password' | 'disabled' | 'initial_password_expired';

/** An initial password that was not changed in time: it signs in nowhere, nor proves anything in a session opened before. */
export const initialPasswordExpired = (account: { passwordIsInitial: boolean; initialPasswordExpiresAt: Date | null }, now: Date) =>
  account.passwordIsInitial && account.initialPasswordExpiresAt !== null && account.initialPasswordExpiresAt <= now;

/**
 * Why a login with this password result is refused, or undefined if it is not. A locked account
 * is locked for everyone, whatever the password: the answer must not confirm a guess (and the
 * password is not even verified while the lock is known beforehand).
 */
export function loginRefusal(
  account: { disabled: boolean; lockedUntil: Date | null; passwordIsInitial: boolean; initialPasswordExpiresAt: Date | null },
  passwordOk: boolean,
  now: Date,
): LoginRefusal | undefined {
  if (isLocked(account, now)) return 'locked';
  if (!passwordOk) return 'wrong_password';
  if (account.disabled) return 'disabled';
  if (initialPasswordExpired(account, now)) return 'initial_password_expired';
  return undefined;
}

/**
 * What stands for a login ID wherever it is kept without an account to point at (failure
 * counters, throttles, probe records): an HMAC under the platform key, scoped to the clinic (or
 * to the unknown clinic's slug), so equal IDs match within a clinic and a stored value reveals
 * nothing, not even a password typed into the wrong field.
 */
export function loginIdHash(key: string, scope: string, loginId: string): string {
  return createHmac('sha256', key).update(`login-id\u0000${scope}\u0000${loginId}`, 'utf8').digest('base64url').slice(0, 32);
}

/** A password or passkey proved within this many seconds counts as fresh (passkey changes need one). */
export const REAUTHENTICATION_WINDOW_SECONDS = 300;

export const isFreshlyVerified = (verifiedAt: Date, now: Date) => now.getTime() - verifiedAt.getTime() <= REAUTHENTICATION_WINDOW_SECONDS * 1000;

/** A passkey may go unless it is the last one of an account the clinic requires two-step verification of. */
export const mayRemovePasskey = (policy: PasswordPolicy, roles: readonly string[], passkeys: number) => passkeys > 1 || !secondFactorRequired(policy, roles);
