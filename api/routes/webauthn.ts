import { z } from 'zod';
import { listOwnPasskeys, removeOwnPasskey } from '../../application/passkeys/own-passkeys';
import { passkeyRegistrationOptions, registerPasskey } from '../../application/passkeys/register-passkey';
import { passkeyAuthenticationOptions, verifyPasskey } from '../../application/passkeys/verify-passkey';
import type { WebauthnCredentialRow } from '../../db/models/webauthn';
import { clinicActor, sessionActor } from '../actor';
import { defineRoute } from '../route';
import { idParams } from '../schemas';
import type { AppDeps } from '../app';
import { nameText } from '../../domain/fields';

/** Passkeys (WebAuthn) as the second factor: validate, call one use case (application/passkeys/), respond. */
export const credentialJson = z
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
  name: nameText(64).optional(),
});
const authenticationVerifyBody = z.strictObject({ response: credentialJson });
/** The session's state after a passkey: active, or a password change still due (the passkey comes first). */
const afterPasskey = z.enum(['active', 'password_change_required']);

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

const common = { tags: ['auth'], security: 'session' as const };

const newToken = z.string().describe('The new session token: the one used for this request no longer works');

export const webauthnRoutes = (deps: AppDeps) => [
  defineRoute({
    ...common,
    method: 'post',
    path: '/v1/auth/webauthn/registration/options',
    // Signing in, out and proving who one is keep working while the clinic is read-only after its contract ended.
    openAfterContractEnd: true,
    operationId: 'passkeyRegistrationOptions',
    summary: 'Options for navigator.credentials.create() to register a passkey (needs a password or passkey proved in the last 5 minutes)',
    states: ['active', 'second_factor_enrollment_required'],
    responses: { 200: { description: 'PublicKeyCredentialCreationOptionsJSON', schema: z.record(z.string(), z.unknown()) } },
    problems: { 403: ['reauthentication_required'] },
    handler: async (ctx) => {
      ctx.body = await passkeyRegistrationOptions(deps, sessionActor(ctx));
    },
  }),

  defineRoute({
    ...common,
    method: 'post',
    path: '/v1/auth/webauthn/registration/verify',
    // Signing in, out and proving who one is keep working while the clinic is read-only after its contract ended.
    openAfterContractEnd: true,
    operationId: 'passkeyRegistrationVerify',
    summary: 'Register the passkey the browser created (needs a recent proof); an enrolling session is replaced by an active one',
    states: ['active', 'second_factor_enrollment_required'],
    body: registrationVerifyBody,
    responses: {
      201: {
        description: 'Registered; the session is active (when it was enrolling: a new session, whose token is in the answer)',
        schema: passkeyView.extend({ state: afterPasskey, token: newToken.optional() }),
      },
    },
    problems: { 400: ['invalid_challenge', 'webauthn_verification_failed'], 403: ['reauthentication_required'], 409: ['passkey_exists'] },
    handler: async (ctx, { body }) => {
      const { passkey, token, state } = await registerPasskey(deps, sessionActor(ctx), body);
      ctx.status = 201;
      ctx.body = { ...toPasskeyView(passkey), state, ...(token ? { token } : {}) };
    },
  }),

  defineRoute({
    ...common,
    method: 'post',
    path: '/v1/auth/webauthn/authentication/options',
    // Signing in, out and proving who one is keep working while the clinic is read-only after its contract ended.
    openAfterContractEnd: true,
    operationId: 'passkeyAuthenticationOptions',
    summary: 'Options for navigator.credentials.get(): to complete two-step verification, or to re-authenticate an active session',
    states: ['second_factor_required', 'active'],
    responses: { 200: { description: 'PublicKeyCredentialRequestOptionsJSON', schema: z.record(z.string(), z.unknown()) } },
    handler: async (ctx) => {
      ctx.body = await passkeyAuthenticationOptions(deps, sessionActor(ctx));
    },
  }),

  defineRoute({
    ...common,
    method: 'post',
    path: '/v1/auth/webauthn/authentication/verify',
    // Signing in, out and proving who one is keep working while the clinic is read-only after its contract ended.
    openAfterContractEnd: true,
    operationId: 'passkeyAuthenticationVerify',
    summary: 'Verify the passkey assertion: two-step verification issues a new, active session; an active session is re-authenticated',
    states: ['second_factor_required', 'active'],
    body: authenticationVerifyBody,
    responses: {
      200: {
        description: 'Verified (after two-step verification with the new session token; the old one no longer works). `state` is `password_change_required` when the password must change: a passkey is presented first, then the password is changed',
        schema: z.object({
          state: afterPasskey,
          token: newToken.optional(),
          previousSignIn: z
            .object({ at: z.string(), clientIp: z.string().nullable() })
            .nullable()
            .optional()
            .describe('With two-step verification: the account\'s sign-in before this one (前回のログイン), once the new session is active; null when none is kept'),
        }),
      },
    },
    problems: { 400: ['invalid_challenge', 'webauthn_verification_failed'] },
    handler: async (ctx, { body }) => {
      const { token, state, previousSignIn } = await verifyPasskey(deps, sessionActor(ctx), body.response);
      ctx.body = { state, ...(token ? { token } : {}), ...(previousSignIn !== undefined ? { previousSignIn } : {}) };
    },
  }),

  defineRoute({
    ...common,
    method: 'get',
    path: '/v1/auth/webauthn/credentials',
    operationId: 'listOwnPasskeys',
    summary: 'Your passkeys',
    responses: { 200: { description: 'Passkeys', schema: z.object({ items: z.array(passkeyView) }) } },
    handler: async (ctx) => {
      ctx.body = { items: (await listOwnPasskeys(deps, clinicActor(ctx))).map(toPasskeyView) };
    },
  }),

  defineRoute({
    ...common,
    method: 'delete',
    path: '/v1/auth/webauthn/credentials/:id',
    operationId: 'removeOwnPasskey',
    summary: 'Remove one of your passkeys (needs a recent proof; not the last one when the clinic requires two-step verification)',
    // A lost or stolen passkey can be taken out of use while the clinic is read-only after its contract ended.
    openAfterContractEnd: true,
    params: idParams,
    responses: { 204: { description: 'Removed' } },
    problems: { 403: ['reauthentication_required'], 404: [], 409: ['last_passkey'] },
    handler: async (ctx, { params }) => {
      await removeOwnPasskey(deps, sessionActor(ctx), params.id);
      ctx.status = 204;
    },
  }),
];
