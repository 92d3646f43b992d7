import { isUniqueViolation } from '../../db/errors';
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import { findAccount } from '../../db/accounts';
import { recordAudit } from '../../db/audit';
import type { WebauthnCredentialRow } from '../../db/models/webauthn';
import { withTenant } from '../../db/tenant-scope';
import { findPasskey, insertPasskey, listPasskeys, passkeyCount, storeChallenge } from '../../db/webauthn';
import { conflict, unauthorized } from '../../domain/problems';
import { recordOnboardingFact } from '../accounts/onboarding';
import { requireRecentProof } from '../auth/reauthenticate';
import { commitThenDispatch } from '../commit-then-dispatch';
import type { AfterPasskey } from '../../domain/sign-in';
import type { SessionActor } from '../deps';
import { registrationOptions, registrationRefusal, verifyRegistration } from './webauthn';
import { challengeExpiry, consume, refuse, replaceSession, signedChallenge, type PasskeyDeps, type PasskeyResponse } from './ceremony';

/**
 * Step one of registering a passkey: options for navigator.credentials.create(), with a fresh
 * challenge. Needs a password or passkey proved in the last minutes (403 reauthentication_required).
 */
export async function passkeyRegistrationOptions(deps: PasskeyDeps, actor: SessionActor): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return withTenant(deps.db, actor.tenantId, async (trx) => {
    await requireRecentProof(trx, actor);
    const account = await findAccount(trx, actor.accountId);
    if (!account) throw unauthorized();
    const existing = await listPasskeys(trx, actor.accountId);
    const options = await registrationOptions(deps.security.webauthn, { id: actor.accountId, name: account.loginId, displayName: account.displayName }, existing);
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
): Promise<{ passkey: WebauthnCredentialRow; token?: string; state: AfterPasskey }> {
  const challenge = signedChallenge(req.response);
  const result = await commitThenDispatch(deps, actor.tenantId, async (trx, enqueue): Promise<{ failed: string } | { passkey: WebauthnCredentialRow; token?: string; state: AfterPasskey }> => {
    await requireRecentProof(trx, actor);
    await consume(trx, actor, 'registration', challenge);
    const verified = await verifyRegistration(deps.security.webauthn, challenge, req.response);
    if ('failed' in verified) return verified;
    const { credential } = verified;
    if (await findPasskey(trx, credential.credentialId)) throw conflict('passkey_exists', 'This passkey is already registered.');
    const count = await passkeyCount(trx, actor.accountId);
    const row = await insertPasskey(trx, {
      accountId: actor.accountId,
      ...credential,
      name: req.name ?? `Passkey ${count + 1}`,
    }).catch((err: unknown) => {
      // Registered in another clinic: row-level security hid it from the check above, the unique index did not.
      throw isUniqueViolation(err, 'webauthn_credentials_credential_id_key') ? conflict('passkey_exists', 'This passkey is already registered.') : err;
    });
    const account = await findAccount(trx, actor.accountId);
    if (!account) throw unauthorized();
    await recordOnboardingFact(trx, enqueue, account, { kind: 'passkeyRegistered' });
    await recordAudit(trx, actor.audit, { action: 'passkey.register', outcome: 'success', targetType: 'passkey', targetId: row.id });
    return { passkey: row, ...(actor.sessionState === 'active' ? { state: 'active' as const } : await replaceSession(trx, actor, row.id)) };
  });
  if ('failed' in result) return refuse(deps, actor, 'passkey.register', result.failed, registrationRefusal(result.failed));
  return result;
}
