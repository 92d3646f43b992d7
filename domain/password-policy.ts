import { randomInt } from 'node:crypto';
import { z } from 'zod';

/**
 * Per-clinic password, lockout and session policy. Defaults follow the MHLW guideline for the
 * security of medical information systems (6.0) Q&A: at least 13 characters mixing letters,
 * digits and symbols; a clinic that requires two-step verification for everyone may go down to 8.
 * Durations are in seconds so tests can use short ones.
 */
export const SECOND_FACTOR = ['none', 'admins', 'everyone'] as const;

const seconds = (min: number, max: number) => z.number().int().min(min).max(max);

export const passwordPolicySchema = z
  .strictObject({
    minLength: z.number().int().min(8).max(128).default(13),
    requireLetters: z.boolean().default(true),
    requireDigits: z.boolean().default(true),
    requireSymbols: z.boolean().default(true),
    disallowLoginId: z.boolean().default(true),
    /** The last N passwords may not be reused (0 = no history). */
    historyCount: z.number().int().min(0).max(24).default(5),
    /** A password older than this must be changed (0 = never expires). */
    maxAgeSeconds: seconds(0, 5 * 365 * 86_400).default(0),
    initialPasswordTtlSeconds: seconds(1, 30 * 86_400).default(72 * 3_600),
    secondFactor: z.enum(SECOND_FACTOR).default('none'),
    lockout: z
      .strictObject({
        maxFailures: z.number().int().min(1).max(100).default(5),
        waitIncrementSeconds: seconds(1, 86_400).default(60),
        maxWaitSeconds: seconds(1, 7 * 86_400).default(15 * 60),
        failureResetSeconds: seconds(1, 30 * 86_400).default(12 * 3_600),
      })
      .prefault({}),
    // Floors: a session ended within seconds locks the whole clinic out, the admin who saved it
    // included, with nobody left able to change it back by hand. A minute idle and a quarter of an
    // hour in all always leave time to sign in and correct it.
    session: z
      .strictObject({
        idleTimeoutSeconds: seconds(60, 7 * 86_400).default(30 * 60),
        absoluteLifetimeSeconds: seconds(15 * 60, 30 * 86_400).default(12 * 3_600),
      })
      .prefault({}),
  })
  .superRefine((p, ctx) => {
    const floor = p.secondFactor === 'everyone' ? 8 : 13;
    if (p.minLength < floor) {
      ctx.addIssue({
        code: 'custom',
        path: ['minLength'],
        message: `must be at least ${floor}${floor === 13 ? ' unless secondFactor is "everyone" (then 8)' : ''}`,
      });
    }
    if (p.lockout.maxWaitSeconds < p.lockout.waitIncrementSeconds) {
      ctx.addIssue({ code: 'custom', path: ['lockout', 'maxWaitSeconds'], message: 'must be at least waitIncrementSeconds' });
    }
    if (p.session.absoluteLifetimeSeconds < p.session.idleTimeoutSeconds) {
      ctx.addIssue({ code: 'custom', path: ['session', 'absoluteLifetimeSeconds'], message: 'must be at least idleTimeoutSeconds' });
    }
  });

export type PasswordPolicy = z.output<typeof passwordPolicySchema>;
export const DEFAULT_PASSWORD_POLICY: PasswordPolicy = passwordPolicySchema.parse({});

export const MAX_PASSWORD_LENGTH = 256;

export interface UnmetRule {
  rule: 'min_length' | 'max_length' | 'letters' | 'digits' | 'symbols' | 'contains_login_id' | 'reused';
  message: string;
}

/** Every rule the candidate breaks (history is checked separately: it needs the stored hashes). */
export function unmetPasswordRules(password: string, policy: PasswordPolicy, loginId: string): UnmetRule[] {
  const unmet: UnmetRule[] = [];
  const length = [...password].length;
  if (length < policy.minLength) unmet.push({ rule: 'min_length', message: `must be at least ${policy.minLength} characters` });
  if (length > MAX_PASSWORD_LENGTH) unmet.push({ rule: 'max_length', message: `must be at most ${MAX_PASSWORD_LENGTH} characters` });
  if (policy.requireLetters && !/\p{L}/u.test(password)) unmet.push({ rule: 'letters', message: 'must contain a letter' });
  if (policy.requireDigits && !/\p{Nd}/u.test(password)) unmet.push({ rule: 'digits', message: 'must contain a digit' });
  if (policy.requireSymbols && !/[^\p{L}\p{Nd}\s]/u.test(password)) unmet.push({ rule: 'symbols', message: 'must contain a symbol' });
  if (policy.disallowLoginId && loginId.length >= 3 && password.normalize('NFKC').toLowerCase().includes(loginId.toLowerCase())) {
    unmet.push({ rule: 'contains_login_id', message: 'must not contain the login ID' });
  }
  return unmet;
}

const LETTERS = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'; // no I, l, O, o: read aloud safely
const DIGITS = '23456789';
const SYMBOLS = '!#%+-=?@';

/** A random initial password that satisfies `policy` (at least 16 characters). */
export function generateInitialPassword(policy: PasswordPolicy): string {
  const length = Math.max(16, policy.minLength);
  const all = LETTERS + DIGITS + SYMBOLS;
  const pick = (set: string) => set[randomInt(set.length)]!;
  const chars = [pick(LETTERS), pick(DIGITS), pick(SYMBOLS)];
  while (chars.length < length) chars.push(pick(all));
  for (let i = chars.length - 1; i > 0; i -= 1) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}

/** Does this account need a passkey under `policy`? */
/** Whom a change of the two-step rule newly covers (their password-only sessions must end), if anyone. */
export function newlyCoveredBySecondFactor(before: Pick<PasswordPolicy, 'secondFactor'>, after: Pick<PasswordPolicy, 'secondFactor'>): 'everyone' | 'admins' | 'others' | undefined {
  if (before.secondFactor === after.secondFactor || after.secondFactor === 'none') return undefined;
  if (after.secondFactor === 'admins') return before.secondFactor === 'none' ? 'admins' : undefined;
  return before.secondFactor === 'admins' ? 'others' : 'everyone';
}

export function secondFactorRequired(policy: PasswordPolicy, roles: readonly string[]): boolean {
  return policy.secondFactor === 'everyone' || (policy.secondFactor === 'admins' && roles.includes('admin'));
}
