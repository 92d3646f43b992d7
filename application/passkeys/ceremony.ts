import { findAccount } from '../../db/accounts';
import { recordAuditNow } from '../../db/audit';
import { createSession, revokeSession } from '../../db/sessions';
import { getSettings } from '../../db/settings';
import type { TenantTransaction } from '../../db/tenant-scope';
import { consumeChallenge, type ChallengePurpose } from '../../db/webauthn';
import { Problem, unauthorized } from '../../domain/problems';
import { stateAfterSecondFactor, type AfterPasskey } from '../../domain/sign-in';
import type { Services, SessionActor } from '../deps';

/**
 * What both passkey ceremonies (registration, authentication) share. @simplewebauthn verifies
 * signatures, origins and counters, but neither the freshness nor the single use of a challenge:
 * challenges live in the database for two minutes and are deleted by the verification that
 * consumes them.
 */
export interface RelyingParty {
  /** The front end's domain (never an IP address). */
  rpId: string;
  rpName: string;
  origins: string[];
}

export type PasskeyDeps = Pick<Services, 'db' | 'outbox'> & { security: { webauthn: RelyingParty } };

/** The browser's PublicKeyCredential as JSON; @simplewebauthn checks the rest. */
export interface PasskeyResponse {
  id: string;
  response: Record<string, unknown>;
  [field: string]: unknown;
}

export const CHALLENGE_TTL_MS = 2 * 60_000;

export const challengeExpiry = () => new Date(Date.now() + CHALLENGE_TTL_MS);

const verificationFailed = (detail: string) => new Problem(400, 'webauthn_verification_failed', 'Bad Request', detail);

/** The challenge the browser signed, read from clientDataJSON, so we can look it up and consume it. */
export function signedChallenge(response: PasskeyResponse): string {
  try {
    const clientData = JSON.parse(Buffer.from(String(response.response.clientDataJSON), 'base64url').toString('utf8'));
    if (typeof clientData.challenge !== 'string') throw new Error();
    return clientData.challenge;
  } catch {
    throw verificationFailed('clientDataJSON is malformed.');
  }
}

/** Consumes the session's challenge for this ceremony, or 400 invalid_challenge (unknown, used or expired). */
export async function consume(trx: TenantTransaction, actor: SessionActor, purpose: ChallengePurpose, challenge: string): Promise<void> {
  if (!(await consumeChallenge(trx, actor.sessionId, purpose, challenge))) {
    throw new Problem(400, 'invalid_challenge', 'Bad Request', 'The challenge is unknown, used or expired. Start again.');
  }
}

/** A response that did not verify: logged in a transaction of its own (the ceremony's committed), then 400. */
export async function refuse(deps: Pick<Services, 'db'>, actor: SessionActor, action: string, reason: string, detail: string): Promise<never> {
  await recordAuditNow(deps.db, actor.tenantId, actor.audit, { action, outcome: 'failed', details: { reason: reason.slice(0, 200) } });
  throw verificationFailed(detail);
}

/**
 * The session passed its second factor (or enrolled one): a new session takes its place (active,
 * or still to change a password that must change) and the old one is revoked, so a token seen
 * before the second factor is worthless after it. Returns the new token and its state. The new
 * session counts as freshly verified, and as having presented the passkey `passkeyId` (a stricter
 * two-step rule does not end it while that passkey is registered).
 */
export async function replaceSession(trx: TenantTransaction, actor: SessionActor, passkeyId: string): Promise<{ token: string; state: AfterPasskey }> {
  const { policy } = await getSettings(trx);
  const account = await findAccount(trx, actor.accountId);
  if (!account) throw unauthorized();
  // A password that must change is changed now, by a session that has shown its passkey.
  const state = stateAfterSecondFactor(account, policy, new Date());
  // The old one first: it is not one of the account's sessions to count against the cap.
  await revokeSession(trx, actor.sessionId);
  const { token } = await createSession(trx, {
    tenantId: actor.tenantId,
    accountId: actor.accountId,
    state,
    policy,
    clientIp: actor.audit.clientIp ?? null,
    userAgent: actor.audit.userAgent,
    secondFactor: passkeyId,
  });
  return { token, state };
}
