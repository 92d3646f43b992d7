import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import { z } from 'zod';
import { isUniqueViolation } from '../../db/errors';
import { getSettings } from '../../db/settings';
import { recordAudit, recordAuditNow } from '../../db/audit';
import { AccountRow } from '../../db/models/account';
import { WebauthnChallengeRow, WebauthnCredentialRow } from '../../db/models/webauthn';
import { setSessionState } from '../../db/sessions';
import { withTenant, type TenantTransaction } from '../../db/tenant-scope';
import { secondFactorRequired } from '../../domain/password-policy';
import { Problem, conflict, notFound } from '../../domain/problems';
import { auditContext } from '../audit-context';
import { onboardingFact } from '../../application/accounts/onboarding';
import { enqueueWorkflow } from '../../db/outbox';
import { defineRoute } from '../route';
import { idParams } from '../schemas';
import type { AppDeps } from '../app';

/**
 * Passkeys (WebAuthn) as the second factor. @simplewebauthn verifies signatures, origins and
 * counters, but neither the freshness nor the single use of a challenge: challenges live in
 * the database for two minutes and are deleted by the verification that consumes them.
 */
const CHALLENGE_TTL_MS = 2 * 60_000;

const credentialJson = z
  .object({
    id: z.string().min(1).max(1024),
    rawId: z.string().min(1).max(1024),
    type: z.literal('public-key'),
    response: z.record(z.string(), z.unknown()),
    clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
    authenticatorAttachment: z.string().optional(),
  })
  .passthrough();

const registrationVerifyBody = z.strictObject({
  response: credentialJson,
  name: z.string().trim().min(1).max(64).optional(),
});
const authenticationVerifyBody = z.strictObject({ response: credentialJson });

const verificationFailed = (detail: string) => new Problem(400, 'webauthn_verification_failed', 'Bad Request', detail);

/** The challenge the browser signed, read from clientDataJSON, so we can look it up and consume it. */
function signedChallenge(response: z.infer<typeof credentialJson>): string {
  try {
    const clientData = JSON.parse(Buffer.from(String(response.response.clientDataJSON), 'base64url').toString('utf8'));
    if (typeof clientData.challenge !== 'string') throw new Error();
    return clientData.challenge;
  } catch {
    throw verificationFailed('clientDataJSON is malformed.');
  }
}

/** Deletes and returns the challenge if it belongs to this session, has this purpose and is fresh. */
async function consumeChallenge(trx: TenantTransaction, sessionId: string, purpose: 'registration' | 'authentication', challenge: string) {
  const rows = (await WebauthnChallengeRow.query(trx)
    .delete()
    .where({ sessionId, purpose, challenge })
    .where('expiresAt', '>', new Date())
    .returning('*')) as unknown as WebauthnChallengeRow[];
  if (rows.length === 0) throw new Problem(400, 'invalid_challenge', 'Bad Request', 'The challenge is unknown, used or expired. Start again.');
}

async function storeChallenge(trx: TenantTransaction, sessionId: string, purpose: 'registration' | 'authentication', challenge: string) {
  // One outstanding challenge per session and purpose; stale ones go.
  await WebauthnChallengeRow.query(trx).delete().where({ sessionId, purpose });
  await WebauthnChallengeRow.query(trx).insert({ sessionId, purpose, challenge, expiresAt: new Date(Date.now() + CHALLENGE_TTL_MS) });
}

const passkeyView = z.object({
  id: z.string().uuid(),
  name: z.string(),
  deviceType: z.string(),
  backedUp: z.boolean(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
});

const toPasskeyView = (c: WebauthnCredentialRow) => ({
  id: c.id,
  name: c.name,
  deviceType: c.deviceType,
  backedUp: c.backedUp,
  createdAt: c.createdAt.toISOString(),
  lastUsedAt: c.lastUsedAt?.toISOString() ?? null,
});

export const webauthnRoutes = (deps: AppDeps) => {
  const { rpId, rpName, origins } = deps.security.webauthn;
  return [
    defineRoute({
      method: 'post',
      path: '/v1/auth/webauthn/registration/options',
      operationId: 'passkeyRegistrationOptions',
      summary: 'Options for navigator.credentials.create() to register a passkey',
      tags: ['auth'],
      security: 'session',
      states: ['active', 'second_factor_enrollment_required'],
      responses: { 200: { description: 'PublicKeyCredentialCreationOptionsJSON', schema: z.record(z.string(), z.unknown()) } },
      handler: async (ctx) => {
        const auth = ctx.state.auth!;
        ctx.body = await withTenant(deps.db, auth.tenantId, async (trx) => {
          const account = await AccountRow.query(trx).findById(auth.accountId);
          const existing = await WebauthnCredentialRow.query(trx).where({ accountId: auth.accountId });
          const options = await generateRegistrationOptions({
            rpName,
            rpID: rpId,
            userName: account!.loginId,
            userDisplayName: account!.displayName,
            userID: Buffer.from(auth.accountId.replace(/-/g, ''), 'hex'),
            attestationType: 'none',
            excludeCredentials: existing.map((c) => ({ id: c.credentialId, transports: c.transports })),
            authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
            timeout: CHALLENGE_TTL_MS,
          });
          await storeChallenge(trx, auth.sessionId, 'registration', options.challenge);
          return options;
        });
      },
    }),

    defineRoute({
      method: 'post',
      path: '/v1/auth/webauthn/registration/verify',
      operationId: 'passkeyRegistrationVerify',
      summary: 'Register the passkey the browser created',
      tags: ['auth'],
      security: 'session',
      states: ['active', 'second_factor_enrollment_required'],
      body: registrationVerifyBody,
      responses: { 201: { description: 'Registered; the session is active', schema: passkeyView.extend({ state: z.literal('active') }) } },
      problems: [400],
      handler: async (ctx, { body }) => {
        const auth = ctx.state.auth!;
        const challenge = signedChallenge(body.response);
        const result = await withTenant(deps.db, auth.tenantId, async (trx) => {
          await consumeChallenge(trx, auth.sessionId, 'registration', challenge);
          let verification;
          try {
            verification = await verifyRegistrationResponse({
              response: body.response as never,
              expectedChallenge: challenge,
              expectedOrigin: origins,
              expectedRPID: rpId,
              requireUserVerification: true,
            });
          } catch (err) {
            return { kind: 'failed' as const, reason: (err as Error).message };
          }
          if (!verification.verified) return { kind: 'failed' as const, reason: 'not verified' };
          const { credential, credentialDeviceType, credentialBackedUp } = verification.registrationInfo;
          if (await WebauthnCredentialRow.query(trx).findOne({ credentialId: credential.id })) {
            throw conflict('passkey_exists', 'This passkey is already registered.');
          }
          const count = (await WebauthnCredentialRow.query(trx).where({ accountId: auth.accountId })).length;
          const row = await WebauthnCredentialRow.query(trx).insertAndFetch({
            accountId: auth.accountId,
            credentialId: credential.id,
            publicKey: Buffer.from(credential.publicKey),
            counter: credential.counter,
            transports: credential.transports ?? [],
            deviceType: credentialDeviceType,
            backedUp: credentialBackedUp,
            name: body.name ?? `Passkey ${count + 1}`,
          }).catch((err: unknown) => {
            // Registered in another clinic: row-level security hid it from the check above, the unique index did not.
            throw isUniqueViolation(err, 'webauthn_credentials_credential_id_key') ? conflict('passkey_exists', 'This passkey is already registered.') : err;
          });
          const account = await AccountRow.query(trx).findById(auth.accountId);
          const enrolling = account!.onboardingState === 'second_factor_enrollment_required';
          if (enrolling) await AccountRow.query(trx).patch({ onboardingState: 'active', updatedAt: trx.fn.now() as never }).where({ id: auth.accountId });
          await setSessionState(trx, auth.sessionId, 'active');
          await recordAudit(trx, auditContext(ctx), { action: 'passkey.register', outcome: 'success', targetType: 'passkey', targetId: row.id });
          const outbox = enrolling ? [await enqueueWorkflow(trx, auth.tenantId, onboardingFact(auth.accountId, 'passkeyRegistered'))] : [];
          return { kind: 'ok' as const, row, outbox };
        });
        if (result.kind === 'failed') {
          await recordAuditNow(deps.db, auth.tenantId, auditContext(ctx), { action: 'passkey.register', outcome: 'failed', details: { reason: result.reason.slice(0, 200) } });
          throw verificationFailed('The passkey could not be verified.');
        }
        await deps.outbox.dispatchCommitted(result.outbox);
        ctx.status = 201;
        ctx.body = { ...toPasskeyView(result.row), state: 'active' };
      },
    }),

    defineRoute({
      method: 'post',
      path: '/v1/auth/webauthn/authentication/options',
      operationId: 'passkeyAuthenticationOptions',
      summary: 'Options for navigator.credentials.get() to complete two-step verification',
      tags: ['auth'],
      security: 'session',
      states: ['second_factor_required'],
      responses: { 200: { description: 'PublicKeyCredentialRequestOptionsJSON', schema: z.record(z.string(), z.unknown()) } },
      handler: async (ctx) => {
        const auth = ctx.state.auth!;
        ctx.body = await withTenant(deps.db, auth.tenantId, async (trx) => {
          const credentials = await WebauthnCredentialRow.query(trx).where({ accountId: auth.accountId });
          const options = await generateAuthenticationOptions({
            rpID: rpId,
            allowCredentials: credentials.map((c) => ({ id: c.credentialId, transports: c.transports as never })),
            userVerification: 'required',
            timeout: CHALLENGE_TTL_MS,
          });
          await storeChallenge(trx, auth.sessionId, 'authentication', options.challenge);
          return options;
        });
      },
    }),

    defineRoute({
      method: 'post',
      path: '/v1/auth/webauthn/authentication/verify',
      operationId: 'passkeyAuthenticationVerify',
      summary: 'Verify the passkey assertion; the session becomes active',
      tags: ['auth'],
      security: 'session',
      states: ['second_factor_required'],
      body: authenticationVerifyBody,
      responses: { 200: { description: 'Verified', schema: z.object({ state: z.literal('active') }) } },
      problems: [400],
      handler: async (ctx, { body }) => {
        const auth = ctx.state.auth!;
        const challenge = signedChallenge(body.response);
        const result = await withTenant(deps.db, auth.tenantId, async (trx) => {
          await consumeChallenge(trx, auth.sessionId, 'authentication', challenge);
          const credential = await WebauthnCredentialRow.query(trx).findOne({ credentialId: body.response.id, accountId: auth.accountId }).forUpdate();
          if (!credential) return { kind: 'failed' as const, reason: 'unknown credential' };
          try {
            const verification = await verifyAuthenticationResponse({
              response: body.response as never,
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
            if (!verification.verified) return { kind: 'failed' as const, reason: 'not verified' };
            await WebauthnCredentialRow.query(trx)
              .patch({ counter: verification.authenticationInfo.newCounter, lastUsedAt: new Date() })
              .where({ id: credential.id });
          } catch (err) {
            return { kind: 'failed' as const, reason: (err as Error).message };
          }
          await setSessionState(trx, auth.sessionId, 'active');
          await recordAudit(trx, auditContext(ctx), { action: 'login.second_factor', outcome: 'success', targetType: 'passkey', targetId: credential.id });
          return { kind: 'ok' as const };
        });
        if (result.kind === 'failed') {
          await recordAuditNow(deps.db, auth.tenantId, auditContext(ctx), { action: 'login.second_factor', outcome: 'failed', details: { reason: result.reason.slice(0, 200) } });
          throw verificationFailed('The passkey assertion could not be verified.');
        }
        ctx.body = { state: 'active' };
      },
    }),

    defineRoute({
      method: 'get',
      path: '/v1/auth/webauthn/credentials',
      operationId: 'listOwnPasskeys',
      summary: 'Your passkeys',
      tags: ['auth'],
      security: 'session',
      responses: { 200: { description: 'Passkeys', schema: z.object({ items: z.array(passkeyView) }) } },
      handler: async (ctx) => {
        const auth = ctx.state.auth!;
        const rows = await withTenant(deps.db, auth.tenantId, (trx) => WebauthnCredentialRow.query(trx).where({ accountId: auth.accountId }).orderBy('createdAt'));
        ctx.body = { items: rows.map(toPasskeyView) };
      },
    }),

    defineRoute({
      method: 'delete',
      path: '/v1/auth/webauthn/credentials/:id',
      operationId: 'removeOwnPasskey',
      summary: 'Remove one of your passkeys (not the last one when the clinic requires two-step verification)',
      tags: ['auth'],
      security: 'session',
      params: idParams,
      responses: { 204: { description: 'Removed' } },
      problems: [404, 409],
      handler: async (ctx, { params }) => {
        const auth = ctx.state.auth!;
        await withTenant(deps.db, auth.tenantId, async (trx) => {
          const mine = await WebauthnCredentialRow.query(trx).where({ accountId: auth.accountId }).forUpdate();
          const target = mine.find((c) => c.id === params.id);
          if (!target) throw notFound('No such passkey.');
          const { policy } = await getSettings(trx);
          if (mine.length === 1 && secondFactorRequired(policy, auth.roles)) {
            throw conflict('last_passkey', 'Your clinic requires two-step verification: register another passkey before removing this one.');
          }
          await WebauthnCredentialRow.query(trx).delete().where({ id: target.id });
          await recordAudit(trx, auditContext(ctx), { action: 'passkey.remove', outcome: 'success', targetType: 'passkey', targetId: target.id });
        });
        ctx.status = 204;
      },
    }),
  ];
};
