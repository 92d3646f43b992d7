import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import type { PasskeyMaterial } from '../../db/webauthn';
import { CHALLENGE_TTL_MS, type PasskeyResponse, type RelyingParty } from './ceremony';

/**
 * The WebAuthn steps themselves (@simplewebauthn/server), shared by clinic users' and operators'
 * passkeys, which differ only in where credentials, challenges and sessions are stored. Every
 * ceremony requires user verification; attestation is not asked for.
 */

/** A stored credential as the ceremonies need it. */
export interface StoredCredential {
  credentialId: string;
  publicKey: Buffer;
  counter: string | number;
  transports: string[];
}

export function registrationOptions(
  rp: RelyingParty,
  user: { id: string; name: string; displayName: string },
  existing: Pick<StoredCredential, 'credentialId' | 'transports'>[],
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return generateRegistrationOptions({
    rpName: rp.rpName,
    rpID: rp.rpId,
    userName: user.name,
    userDisplayName: user.displayName,
    userID: Buffer.from(user.id.replace(/-/g, ''), 'hex'),
    attestationType: 'none',
    excludeCredentials: existing.map((c) => ({ id: c.credentialId, transports: c.transports as never })),
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
    timeout: CHALLENGE_TTL_MS,
  });
}

/**
 * The transports a browser reported (a hint for later ceremonies, not signed by the authenticator):
 * only the values WebAuthn defines, once each. The library passes on whatever the client sent, and
 * a string, `{}` or a 100,000-character entry would otherwise be stored and echoed back to every
 * later sign-in of the account (a string even failed the insert as a malformed array: a 500).
 */
const TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);
export const knownTransports = (reported: unknown): string[] =>
  Array.isArray(reported) ? [...new Set(reported.filter((t): t is string => typeof t === 'string' && TRANSPORTS.has(t)))] : [];

/**
 * What a refused registration tells its holder. The library's reason goes to the log only (it
 * echoes what the client sent); a page at an origin or relying party ID this service does not
 * accept is a set-up mistake the holder cannot see otherwise, so it is named in our own words.
 * A refused sign-in assertion says nothing of why (that would help someone probing a stolen one).
 */
export function registrationRefusal(reason: string): string {
  if (/origin/i.test(reason)) return 'The passkey could not be verified: the page that made it is not at an origin this service accepts (WEBAUTHN_ORIGINS, or OPERATOR_WEBAUTHN_ORIGINS for operators).';
  if (/RP ?ID/i.test(reason)) return 'The passkey could not be verified: it was made for another relying party ID (WEBAUTHN_RP_ID, or OPERATOR_WEBAUTHN_RP_ID for operators).';
  return 'The passkey could not be verified.';
}

/** Verifies a registration against the challenge it signed; `failed` says why not (for the log). */
export async function verifyRegistration(rp: RelyingParty, challenge: string, response: PasskeyResponse): Promise<{ failed: string } | { credential: PasskeyMaterial }> {
  let verification;
  try {
    verification = await verifyRegistrationResponse({
      response: response as never,
      expectedChallenge: challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.rpId,
      requireUserVerification: true,
    });
  } catch (err) {
    return { failed: (err as Error).message };
  }
  if (!verification.verified) return { failed: 'not verified' };
  const { credential, credentialDeviceType, credentialBackedUp } = verification.registrationInfo;
  return {
    credential: {
      credentialId: credential.id,
      publicKey: Buffer.from(credential.publicKey),
      counter: credential.counter,
      transports: knownTransports(credential.transports),
      deviceType: credentialDeviceType,
      backedUp: credentialBackedUp,
    },
  };
}

export function authenticationOptions(rp: RelyingParty, credentials: Pick<StoredCredential, 'credentialId' | 'transports'>[]): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return generateAuthenticationOptions({
    rpID: rp.rpId,
    allowCredentials: credentials.map((c) => ({ id: c.credentialId, transports: c.transports as never })),
    userVerification: 'required',
    timeout: CHALLENGE_TTL_MS,
  });
}

/** Verifies an assertion by this stored credential; the new signature counter, or why not. */
export async function verifyAssertion(rp: RelyingParty, challenge: string, response: PasskeyResponse, credential: StoredCredential): Promise<{ failed: string } | { newCounter: number }> {
  let verification;
  try {
    verification = await verifyAuthenticationResponse({
      response: response as never,
      expectedChallenge: challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.rpId,
      requireUserVerification: true,
      credential: {
        id: credential.credentialId,
        publicKey: new Uint8Array(credential.publicKey),
        counter: Number(credential.counter),
        transports: credential.transports as never,
      },
    });
  } catch (err) {
    return { failed: (err as Error).message };
  }
  if (!verification.verified) return { failed: 'not verified' };
  return { newCounter: verification.authenticationInfo.newCounter };
}
