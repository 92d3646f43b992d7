import { z } from 'zod';
import { passwordPolicySchema, type PasswordPolicy } from './password-policy';
import { OPERATOR_ROLES } from './operator-roles';

/**
 * Operators as named people (README: Operators): the rules their accounts, sessions and API keys
 * follow. Plain values and functions; the application layer applies them.
 */

export const OPERATOR_STATES = ['active', 'disabled'] as const;
export type OperatorState = (typeof OPERATOR_STATES)[number];

/**
 * The operators' password rules: the clinics' defaults (13 characters with letters, digits and
 * symbols, never the current password again (no history is kept), Keycloak-style lockout after 5 failures), a passkey for
 * everyone, and an initial password that must be replaced within a day. Not configurable per
 * operator: the provider's own staff all follow one policy.
 */
export const OPERATOR_PASSWORD_POLICY: PasswordPolicy = passwordPolicySchema.parse({ secondFactor: 'everyone', initialPasswordTtlSeconds: 86_400, historyCount: 0 });

/** Idle and absolute lifetime of an operator session (OPERATOR_SESSION_IDLE_SECONDS, OPERATOR_SESSION_MAX_SECONDS). */
export interface OperatorSessionTiming {
  idleSeconds: number;
  maxSeconds: number;
}

/** An operator signs in with an e-mail address; compared without case (the unique index agrees). */
export const normaliseOperatorEmail = (email: string) => email.trim().toLowerCase();

export const operatorRolesSchema = z
  .array(z.enum(OPERATOR_ROLES))
  .min(1)
  .max(OPERATOR_ROLES.length)
  .refine((r) => new Set(r).size === r.length, 'must not name a role twice');

/** API keys live at most a year: automation credentials are rotated, never forgotten. */
export const API_KEY_MAX_SECONDS = 366 * 86_400;
export const API_KEY_MIN_SECONDS = 60;

/** Break-glass uses are mailed once per window of this length (the first use of each window). */
export const BREAK_GLASS_ALERT_WINDOW_SECONDS = 15 * 60;

/** The alert window a moment falls in (UTC, aligned to the epoch). */
export function breakGlassWindow(at: Date): Date {
  const ms = BREAK_GLASS_ALERT_WINDOW_SECONDS * 1000;
  return new Date(Math.floor(at.getTime() / ms) * ms);
}
