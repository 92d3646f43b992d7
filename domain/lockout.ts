import type { PasswordPolicy } from './password-policy';

/**
 * Brute-force protection in the manner of Keycloak's: after `maxFailures` consecutive failures
 * the account is locked for `waitIncrement`, doubling with each further round of failures up to
 * `maxWait`; the count starts over after `failureReset` without failures, or on success.
 */
export interface FailureState {
  failedLoginCount: number;
  lastFailedLoginAt: Date | null;
  lockedUntil: Date | null;
}

export function isLocked(state: Pick<FailureState, 'lockedUntil'>, now: Date): boolean {
  return state.lockedUntil !== null && state.lockedUntil.getTime() > now.getTime();
}

export function afterFailedLogin(state: FailureState, policy: PasswordPolicy, now: Date): FailureState & { lockedNow: boolean } {
  const { maxFailures, waitIncrementSeconds, maxWaitSeconds, failureResetSeconds } = policy.lockout;
  const stale = state.lastFailedLoginAt !== null && now.getTime() - state.lastFailedLoginAt.getTime() > failureResetSeconds * 1000;
  const count = (stale ? 0 : state.failedLoginCount) + 1;
  let lockedUntil = stale ? null : state.lockedUntil;
  let lockedNow = false;
  if (count % maxFailures === 0 && !isLocked(state, now)) {
    const round = count / maxFailures;
    const waitSeconds = Math.min(maxWaitSeconds, waitIncrementSeconds * 2 ** (round - 1));
    lockedUntil = new Date(now.getTime() + waitSeconds * 1000);
    lockedNow = true;
  }
  return { failedLoginCount: count, lastFailedLoginAt: now, lockedUntil, lockedNow };
}
