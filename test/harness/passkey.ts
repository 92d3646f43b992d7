import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

/**
 * A passkey made in software: enough of an authenticator to register a credential over the API
 * and sign in with it without a browser ("none" attestation, user present and verified, an ES256
 * key). The browser test (test/e2e/passkeys.test.ts) drives a real one; this one lets API tests
 * choose the credential id, e.g. to present the same passkey to two clinics.
 */
export function softwarePasskey(opts: { origin: string; rpId: string; credentialId?: Buffer }) {
  const credentialId = opts.credentialId ?? randomBytes(32);
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let counter = 0;
  const jwk = publicKey.export({ format: 'jwk' });
  // COSE_Key: kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y
  const coseKey = new Map<number, number | Uint8Array>([
    [1, 2],
    [3, -7],
    [-1, 1],
    [-2, new Uint8Array(Buffer.from(jwk.x!, 'base64url'))],
    [-3, new Uint8Array(Buffer.from(jwk.y!, 'base64url'))],
  ]);
  const b64url = (b: Uint8Array) => Buffer.from(b).toString('base64url');

  return {
    id: b64url(credentialId),
    /** The RegistrationResponseJSON a browser would send for `challenge`. */
    registrationResponse(challenge: string) {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(credentialId.length);
      const authData = Buffer.concat([
        createHash('sha256').update(opts.rpId).digest(),
        Buffer.from([0x45]), // flags: user present, user verified, attested credential data
        Buffer.alloc(4), // signature counter
        Buffer.alloc(16), // AAGUID
        length,
        credentialId,
        Buffer.from(isoCBOR.encode(coseKey)),
      ]);
      const attestationObject = isoCBOR.encode(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', new Uint8Array(authData)]]) as never);
      const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge, origin: opts.origin, crossOrigin: false }));
      return {
        id: b64url(credentialId),
        rawId: b64url(credentialId),
        type: 'public-key',
        response: { clientDataJSON: b64url(clientDataJSON), attestationObject: b64url(attestationObject), transports: ['internal'] },
        clientExtensionResults: {},
        authenticatorAttachment: 'platform',
      };
    },
    /** The AuthenticationResponseJSON a browser would send for `challenge` (each one counts up). */
    authenticationResponse(challenge: string) {
      counter += 1;
      const count = Buffer.alloc(4);
      count.writeUInt32BE(counter);
      const authData = Buffer.concat([createHash('sha256').update(opts.rpId).digest(), Buffer.from([0x05]) /* user present, user verified */, count]);
      const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge, origin: opts.origin, crossOrigin: false }));
      // ES256 over authenticatorData ‖ SHA-256(clientDataJSON), DER-encoded as WebAuthn wants.
      const signature = sign('sha256', Buffer.concat([authData, createHash('sha256').update(clientDataJSON).digest()]), privateKey);
      return {
        id: b64url(credentialId),
        rawId: b64url(credentialId),
        type: 'public-key',
        response: { clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(authData), signature: b64url(signature) },
        clientExtensionResults: {},
        authenticatorAttachment: 'platform',
      };
    },
  };
}
