import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { recordPlatformEntry } from '../../db/platform-log';
import {
  consumeOperatorChallenge,
  createOperatorSession,
  findOperator,
  findOperatorPasskey,
  insertOperatorPasskey,
  listOperatorPasskeys,
  recordOperatorPasskeyUse,
  revokeOperatorSession,
  markOperatorSessionVerified,
  storeOperatorChallenge,
  type OperatorPasskeyRow,
} from '../../db/operators';
import { withPlatform, type PlatformTransaction } from '../../db/platform-scope';
import { isFreshlyVerified } from '../../domain/sign-in';
import { badRequest, conflict, forbidden, Problem, unauthorized } from '../../domain/problems';
import type { OperatorActor } from '../deps';
import { challengeExpiry, signedChallenge, type PasskeyResponse } from '../passkeys/ceremony';
import { authenticationOptions, registrationOptions, registrationRefusal, verifyAssertion, verifyRegistration } from '../passkeys/webauthn';
import type { OperatorDeps } from './operator-deps';

/**
 * Operators' passkeys: the same ceremonies as clinic users' (application/passkeys/webauthn.ts),
 * on the operators' relying party and platform tables. A session that enrolled its first passkey
 * or presented one is replaced by an active session (a token seen before the second factor is
 * worthless after it).
 */

/** The person behind a session-authenticated request (API keys and break-glass have no passkeys). */
export function sessionOf(actor: OperatorActor): NonNullable<OperatorActor['session']> {
  if (actor.operator.via !== 'session' || !actor.session) throw forbidden('operator_session_required', 'Only an operator signed in with a session can do this.');
  return actor.session;
}

const invalidChallenge = () => badRequest('invalid_challenge', 'The challenge is unknown, used or expired. Start again.');
const verificationFailed = (detail: string) => new Problem(400, 'webauthn_verification_failed', 'Bad Request', detail);

/** Adding a passkey needs a password or passkey proved in the last five minutes. */
const requireFreshProof = (session: { verifiedAt: Date }) => {
  if (!isFreshlyVerified(session.verifiedAt, new Date())) throw forbidden('reauthentication_required', 'Sign in again before adding a passkey.');
};

/** Registration options; needs a password or passkey proved in the last five minutes. */
export async function operatorPasskeyRegistrationOptions(deps: OperatorDeps, actor: OperatorActor): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const session = sessionOf(actor);
  requireFreshProof(session);
  return withPlatform(deps.db, async (trx) => {
    const operator = await findOperator(trx, actor.operator.id);
    if (!operator) throw unauthorized();
    const options = await registrationOptions(deps.operators.webauthn, { id: operator.id, name: operator.email, displayName: operator.name }, await listOperatorPasskeys(trx, operator.id));
    await storeOperatorChallenge(trx, session.id, 'registration', options.challenge, challengeExpiry());
    return options;
  });
}

export async function registerOperatorPasskey(
  deps: OperatorDeps,
  actor: OperatorActor,
  req: { response: PasskeyResponse; name?: string },
): Promise<{ passkey: OperatorPasskeyRow; token?: string }> {
  const session = sessionOf(actor);
  // Checked again here, not only when the options were asked for: a challenge fetched inside the
  // five minutes must not add a passkey after them (as for clinic users, requireRecentProof).
  requireFreshProof(session);
  const challenge = signedChallenge(req.response);
  const result = await withPlatform(deps.db, async (trx): Promise<{ failed: string } | { passkey: OperatorPasskeyRow; token?: string }> => {
    if (!(await consumeOperatorChallenge(trx, session.id, 'registration', challenge))) throw invalidChallenge();
    const verified = await verifyRegistration(deps.operators.webauthn, challenge, req.response);
    if ('failed' in verified) return verified;
    if (await findOperatorPasskey(trx, verified.credential.credentialId)) throw conflict('passkey_exists', 'This passkey is already registered.');
    const count = (await listOperatorPasskeys(trx, actor.operator.id)).length;
    const passkey = await insertOperatorPasskey(trx, { operatorId: actor.operator.id, ...verified.credential, name: req.name ?? `Passkey ${count + 1}` });
    await recordPlatformEntry(trx, actor.audit, { action: 'operator.passkey.register', outcome: 'success', targetType: 'operator_passkey', targetId: passkey.id });
    return { passkey, ...(session.state === 'active' ? {} : { token: await replaceSession(deps, trx, actor, session.id) }) };
  });
  if ('failed' in result) return refuse(deps, actor, 'operator.passkey.register', result.failed, registrationRefusal(result.failed));
  return result;
}

export async function operatorPasskeyAuthenticationOptions(deps: OperatorDeps, actor: OperatorActor): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const session = sessionOf(actor);
  return withPlatform(deps.db, async (trx) => {
    const options = await authenticationOptions(deps.operators.webauthn, await listOperatorPasskeys(trx, actor.operator.id));
    await storeOperatorChallenge(trx, session.id, 'authentication', options.challenge, challengeExpiry());
    return options;
  });
}

/**
 * The second factor of a sign-in: a verified assertion replaces the session with an active one
 * (the answer carries its token). From an active session it re-authenticates it (a fresh proof,
 * e.g. before adding a passkey); the token stays.
 */
export async function verifyOperatorPasskey(deps: OperatorDeps, actor: OperatorActor, response: PasskeyResponse): Promise<{ token?: string }> {
  const session = sessionOf(actor);
  const challenge = signedChallenge(response);
  const result = await withPlatform(deps.db, async (trx): Promise<{ failed: string } | { token?: string }> => {
    if (!(await consumeOperatorChallenge(trx, session.id, 'authentication', challenge))) throw invalidChallenge();
    const credential = await findOperatorPasskey(trx, response.id, actor.operator.id);
    if (!credential) return { failed: 'unknown credential' };
    const verified = await verifyAssertion(deps.operators.webauthn, challenge, response, credential);
    if ('failed' in verified) return verified;
    await recordOperatorPasskeyUse(trx, credential.id, verified.newCounter);
    if (session.state === 'active') {
      await markOperatorSessionVerified(trx, session.id, 'active');
      await recordPlatformEntry(trx, actor.audit, { action: 'operator.session.reauthenticate', outcome: 'success', targetType: 'operator_passkey', targetId: credential.id });
      return {};
    }
    await recordPlatformEntry(trx, actor.audit, { action: 'operator.login.second_factor', outcome: 'success', targetType: 'operator_passkey', targetId: credential.id });
    return { token: await replaceSession(deps, trx, actor, session.id) };
  });
  if ('failed' in result) return refuse(deps, actor, 'operator.login.second_factor', result.failed, 'The passkey assertion could not be verified.');
  return result;
}

/** A new active session in place of the one that just proved its second factor. */
async function replaceSession(deps: OperatorDeps, trx: PlatformTransaction, actor: OperatorActor, sessionId: string): Promise<string> {
  const { token } = await createOperatorSession(trx, {
    operatorId: actor.operator.id,
    state: 'active',
    timing: deps.operators.session,
    clientIp: actor.audit.clientIp ?? null,
    userAgent: actor.audit.userAgent,
  });
  await revokeOperatorSession(trx, sessionId);
  return token;
}

/** A response that did not verify: logged (and counted as a failed operator login) in its own transaction, then 400. */
async function refuse(deps: OperatorDeps, actor: OperatorActor, action: string, reason: string, detail: string): Promise<never> {
  await withPlatform(deps.db, (trx) => recordPlatformEntry(trx, actor.audit, { action, outcome: 'failed', targetType: 'operator', targetId: actor.operator.id, details: { reason: reason.slice(0, 200) } }));
  await deps.securityEvents.record({ kind: 'operator_login', clientIp: actor.audit.clientIp ?? '0.0.0.0' });
  throw verificationFailed(detail);
}
