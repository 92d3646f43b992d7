import { generateAuthenticationOptions, verifyAuthenticationResponse, type PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { recordAudit } from '../../db/audit';
import { setSessionState } from '../../db/sessions';
import { withTenant } from '../../db/tenant-scope';
import { findPasskey, listPasskeys, recordPasskeyUse, storeChallenge } from '../../db/webauthn';
import type { SessionActor } from '../deps';
import { CHALLENGE_TTL_MS, challengeExpiry, consume, refuse, signedChallenge, type PasskeyDeps, type PasskeyResponse } from './ceremony';

/** Step one of two-step verification: options for navigator.credentials.get() over the account's passkeys. */
export async function passkeyAuthenticationOptions(deps: PasskeyDeps, actor: SessionActor): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return withTenant(deps.db, actor.tenantId, async (trx) => {
    const credentials = await listPasskeys(trx, actor.accountId);
    const options = await generateAuthenticationOptions({
      rpID: deps.security.webauthn.rpId,
      allowCredentials: credentials.map((c) => ({ id: c.credentialId, transports: c.transports as never })),
      userVerification: 'required',
      timeout: CHALLENGE_TTL_MS,
    });
    await storeChallenge(trx, actor.sessionId, 'authentication', options.challenge, challengeExpiry());
    return options;
  });
}

/** Step two: verifies the assertion (signature, origin, counter) and the session becomes active. */
export async function verifyPasskey(deps: PasskeyDeps, actor: SessionActor, response: PasskeyResponse): Promise<void> {
  const { rpId, origins } = deps.security.webauthn;
  const challenge = signedChallenge(response);
  const failed = await withTenant(deps.db, actor.tenantId, async (trx) => {
    await consume(trx, actor, 'authentication', challenge);
    const credential = await findPasskey(trx, response.id, { accountId: actor.accountId, forUpdate: true });
    if (!credential) return 'unknown credential';
    let verification;
    try {
      verification = await verifyAuthenticationResponse({
        response: response as never,
        expectedChallenge: challenge,
        expectedOrigin: origins,
        expectedRPID: rpId,
        requireUserVerification: true,
        credential: {
          id: credential.credentialId,
          publicKey: new Uint8Array(credential.publicKey),
          counter: Number(credential.counter),
          transports: credential.transports as never,
        },
      });
    } catch (err) {
      return (err as Error).message;
    }
    if (!verification.verified) return 'not verified';
    await recordPasskeyUse(trx, credential.id, verification.authenticationInfo.newCounter);
    await setSessionState(trx, actor.sessionId, 'active');
    await recordAudit(trx, actor.audit, { action: 'login.second_factor', outcome: 'success', targetType: 'passkey', targetId: credential.id });
    return undefined;
  });
  if (failed !== undefined) return refuse(deps, actor, 'login.second_factor', failed, 'The passkey assertion could not be verified.');
}
