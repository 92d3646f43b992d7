import { isUniqueViolation } from '../../db/errors';
import { generateRegistrationOptions, verifyRegistrationResponse, type PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import { findAccount } from '../../db/accounts';
import { recordAudit } from '../../db/audit';
import type { WebauthnCredentialRow } from '../../db/models/webauthn';
import { withTenant } from '../../db/tenant-scope';
import { findPasskey, insertPasskey, listPasskeys, passkeyCount, storeChallenge } from '../../db/webauthn';
import { conflict, unauthorized } from '../../domain/problems';
import { recordOnboardingFact } from '../accounts/onboarding';
import { requireRecentProof } from '../auth/reauthenticate';
import { commitThenDispatch } from '../commit-then-dispatch';
import type { SessionActor } from '../deps';
import { CHALLENGE_TTL_MS, challengeExpiry, consume, refuse, replaceSession, signedChallenge, type PasskeyDeps, type PasskeyResponse } from './ceremony';

/**
 * Step one of registering a passkey: options for navigator.credentials.create(), with a fresh
 * challenge. Needs a password or passkey proved in the last minutes (403 reauthentication_required).
 */
export async function passkeyRegistrationOptions(deps: PasskeyDeps, actor: SessionActor): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { rpId, rpName } = deps.security.webauthn;
  return withTenant(deps.db, actor.tenantId, async (trx) => {
    await requireRecentProof(trx, actor);
    const account = await findAccount(trx, actor.accountId);
    if (!account) throw unauthorized();
    const existing = await listPasskeys(trx, actor.accountId);
    const options = await generateRegistrationOptions({
      rpName,
      rpID: rpId,
      userName: account.loginId,
      userDisplayName: account.displayName,
      userID: Buffer.from(actor.accountId.replace(/-/g, ''), 'hex'),
      attestationType: 'none',
      excludeCredentials: existing.map((c) => ({ id: c.credentialId, transports: c.transports as never })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
      timeout: CHALLENGE_TTL_MS,
    });
    await storeChallenge(trx, actor.sessionId, 'registration', options.challenge, challengeExpiry());
    return options;
  });
}

/**
 * Step two: registers the passkey the browser created (again only with a recent proof). An
 * account that was enrolling its second factor finishes onboarding (the workflow hears of it
 * after commit), and its session is replaced by an active one: the answer carries the new token.
 */
export async function registerPasskey(
  deps: PasskeyDeps,
  actor: SessionActor,
  req: { response: PasskeyResponse; name?: string },
): Promise<{ passkey: WebauthnCredentialRow; token?: string }> {
  const { rpId, origins } = deps.security.webauthn;
  const challenge = signedChallenge(req.response);
  const result = await commitThenDispatch(deps, actor.tenantId, async (trx, enqueue): Promise<{ failed: string } | { passkey: WebauthnCredentialRow; token?: string }> => {
    await requireRecentProof(trx, actor);
    await consume(trx, actor, 'registration', challenge);
    let verification;
    try {
      verification = await verifyRegistrationResponse({
        response: req.response as never,
        expectedChallenge: challenge,
        expectedOrigin: origins,
        expectedRPID: rpId,
        requireUserVerification: true,
      });
    } catch (err) {
      return { failed: (err as Error).message };
    }
    if (!verification.verified) return { failed: 'not verified' };
    const { credential, credentialDeviceType, credentialBackedUp } = verification.registrationInfo;
    if (await findPasskey(trx, credential.id)) throw conflict('passkey_exists', 'This passkey is already registered.');
    const count = await passkeyCount(trx, actor.accountId);
    const row = await insertPasskey(trx, {
      accountId: actor.accountId,
      credentialId: credential.id,
      publicKey: Buffer.from(credential.publicKey),
      counter: credential.counter,
      transports: credential.transports ?? [],
      deviceType: credentialDeviceType,
      backedUp: credentialBackedUp,
      name: req.name ?? `Passkey ${count + 1}`,
    }).catch((err: unknown) => {
      // Registered in another clinic: row-level security hid it from the check above, the unique index did not.
      throw isUniqueViolation(err, 'webauthn_credentials_credential_id_key') ? conflict('passkey_exists', 'This passkey is already registered.') : err;
    });
    const account = await findAccount(trx, actor.accountId);
    if (!account) throw unauthorized();
    await recordOnboardingFact(trx, enqueue, account, { kind: 'passkeyRegistered' });
    await recordAudit(trx, actor.audit, { action: 'passkey.register', outcome: 'success', targetType: 'passkey', targetId: row.id });
    return { passkey: row, ...(actor.sessionState === 'active' ? {} : { token: await replaceSession(trx, actor) }) };
  });
  if ('failed' in result) return refuse(deps, actor, 'passkey.register', result.failed, 'The passkey could not be verified.');
  return result;
}
