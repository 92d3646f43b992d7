/**
 * Brute-force protection in the manner of Keycloak's: after `maxFailures` consecutive failures
 * (the clinic's policy) the login ID is locked for `waitIncrementSeconds`, doubling with each
 * further round of failures up to `maxWaitSeconds`; the count starts over after
 * `failureResetSeconds` without failures, or on success. While locked, nothing is counted and
 * every attempt is answered `423 account_locked`, right password or not.
 *
 * The rule is applied by one SQL statement per failure (db/login-failures.ts), so concurrent
 * failures can neither lose a count nor lock twice: the statement that makes the count a
 * multiple of `maxFailures` is the one that locks.
 */
export function isLocked(state: { lockedUntil: Date | null }, now: Date): boolean {
  return state.lockedUntil !== null && state.lockedUntil.getTime() > now.getTime();
}

/** The result of counting one failure. */
export interface CountedFailure {
  /** False when the login ID was locked already: nothing was counted. */
  counted: boolean;
  failedLoginCount: number;
  lockedUntil: Date | null;
  /** This failure locked the login ID (exactly one failure per lockout says so). */
  lockedNow: boolean;
  /** Lockouts so far, this one included: the lockout's number. */
  lockouts: number;
}
