import type { PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { recordAudit } from '../../db/audit';
import { latestSignIn, markSessionVerified } from '../../db/sessions';
import { previousSignInOf, type PreviousSignIn } from '../auth/login';
import { withTenant } from '../../db/tenant-scope';
import { findPasskey, listPasskeys, recordPasskeyUse, storeChallenge } from '../../db/webauthn';
import type { AfterPasskey } from '../../domain/sign-in';
import type { SessionActor } from '../deps';
import { authenticationOptions, verifyAssertion } from './webauthn';
import { challengeExpiry, consume, refuse, replaceSession, signedChallenge, type PasskeyDeps, type PasskeyResponse } from './ceremony';

/** Step one of two-step verification: options for navigator.credentials.get() over the account's passkeys. */
export async function passkeyAuthenticationOptions(deps: PasskeyDeps, actor: SessionActor): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return withTenant(deps.db, actor.tenantId, async (trx) => {
    const credentials = await listPasskeys(trx, actor.accountId);
    const options = await authenticationOptions(deps.security.webauthn, credentials);
    await storeChallenge(trx, actor.sessionId, 'authentication', options.challenge, challengeExpiry());
    return options;
  });
}

/**
 * Step two: verifies the assertion (signature, origin, counter). Completing two-step verification
 * replaces the session: the answer carries a new token (and its state: active, or a password
 * change still due), and the token that only knew the password
 * stops working (a token seen before the second factor is worth nothing after it). From an active
 * session the assertion re-authenticates it (a fresh proof for passkey changes); the token stays.
 */
export async function verifyPasskey(deps: PasskeyDeps, actor: SessionActor, response: PasskeyResponse): Promise<{ token?: string; state: AfterPasskey; previousSignIn?: PreviousSignIn | null }> {
  const challenge = signedChallenge(response);
  const result = await withTenant(deps.db, actor.tenantId, async (trx): Promise<{ failed: string } | { token?: string; state: AfterPasskey; previousSignIn?: PreviousSignIn | null }> => {
    await consume(trx, actor, 'authentication', challenge);
    const credential = await findPasskey(trx, response.id, { accountId: actor.accountId, forUpdate: true });
    if (!credential) return { failed: 'unknown credential' };
    const verified = await verifyAssertion(deps.security.webauthn, challenge, response, credential);
    if ('failed' in verified) return verified;
    await recordPasskeyUse(trx, credential.id, verified.newCounter);
    if (actor.sessionState === 'active') {
      await markSessionVerified(trx, actor.sessionId, { passkey: credential.id });
      await recordAudit(trx, actor.audit, { action: 'session.reauthenticate', outcome: 'success', targetType: 'passkey', targetId: credential.id, details: { method: 'passkey' } });
      return { state: 'active' };
    }
    // The sign-in before this one, leaving out this sign-in's own password step: shown only now that it is complete.
    const previous = await latestSignIn(trx, actor.accountId, actor.sessionId);
    const replaced = await replaceSession(trx, actor, credential.id);
    await recordAudit(trx, actor.audit, { action: 'login.second_factor', outcome: 'success', targetType: 'passkey', targetId: credential.id });
    return { ...replaced, previousSignIn: replaced.state === 'active' ? previousSignInOf(previous) : null };
  });
  if ('failed' in result) return refuse(deps, actor, actor.sessionState === 'active' ? 'session.reauthenticate' : 'login.second_factor', result.failed, 'The passkey assertion could not be verified.');
  return result;
}
