import { z } from 'zod';
import { loginProbeQuery } from './login-probes';
import { uuidInput } from './ids';

/**
 * Denied attempts worth seeing as probing, recorded per source network and minute with a count
 * (application/security/security-event-recorder.ts):
 * - `not_found`: a signed-in clinic user asked for a row that does not exist for them — another
 *   clinic's (row-level security hides it) or none at all; both answer the same 404;
 * - `forbidden`: a signed-in clinic user was refused for a missing role or right (403);
 * - `ip_denied`: a request or login from outside the clinic's network allowlist;
 * - `operator_token`: a missing or wrong bearer token (session, API key or break-glass) on an operator route;
 * - `operator_login`: a failed operator login (wrong password or passkey, unknown e-mail, locked, disabled);
 * - `unknown_clinic_login`: a login to a clinic that does not exist.
 */
export const SECURITY_EVENT_KINDS = ['not_found', 'forbidden', 'ip_denied', 'operator_token', 'unknown_clinic_login', 'operator_login'] as const;
export type SecurityEventKind = (typeof SECURITY_EVENT_KINDS)[number];

/**
 * 403s that are a step of an ordinary flow, not a refusal of what was asked: the front end asks
 * for a fresh password and repeats the request.
 */
const FLOW_REFUSALS = new Set(['reauthentication_required']);

/** What a signed-in user's 403 or 404 counts as, if anything. */
export function deniedAttemptKind(problem: { status: number; code: string }): 'not_found' | 'forbidden' | undefined {
  if (problem.status === 404) return 'not_found';
  if (problem.status === 403 && !FLOW_REFUSALS.has(problem.code)) return 'forbidden';
  return undefined;
}

/** The probe record's window rules (last day by default, at most the 90 days rows are kept) and a keyset cursor. */
export const securityEventQuery = loginProbeQuery.extend({ kind: z.enum(SECURITY_EVENT_KINDS).optional() });

/** Operators may narrow to one clinic, or to attempts about no clinic (`none`). */
export const operatorSecurityEventQuery = securityEventQuery.extend({
  clinic: z.union([uuidInput(), z.literal('none')]).optional(),
});
