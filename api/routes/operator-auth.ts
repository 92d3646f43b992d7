import { z } from 'zod';
import { loginOperator } from '../../application/operators/operator-login';
import { operatorPasskeyAuthenticationOptions, operatorPasskeyRegistrationOptions, registerOperatorPasskey, verifyOperatorPasskey } from '../../application/operators/operator-passkeys';
import { changeOperatorPassword, logoutOperator, operatorMe } from '../../application/operators/operator-session';
import { OPERATOR_ROLES } from '../../domain/operator-roles';
import { MAX_PASSWORD_LENGTH } from '../../domain/password-policy';
import { SESSION_STATES } from '../../domain/sign-in';
import { actor, operatorActor } from '../actor';
import { defineRoute } from '../route';
import type { AppDeps } from '../app';
import { credentialJson } from './webauthn';
import { userAgentOf } from '../user-agent';
import { nameText } from '../../domain/fields';

/**
 * An operator signs in (README: Operators): e-mail and password, then — on the first login —
 * a new password and a passkey, and afterwards always the passkey. Each step answers the
 * session's next state; the steps replace the session when it passes its second factor.
 */
const every = { tags: ['operator'], security: 'operator' as const, operatorRoles: [...OPERATOR_ROLES] };
const password = z.string().min(1).max(4 * MAX_PASSWORD_LENGTH);
const sessionState = z.enum(SESSION_STATES);
const newToken = z.string().describe('The new session token: the one used for this request no longer works');

const loginBody = z.strictObject({ email: z.string().email().max(254), password }).meta({ id: 'OperatorLogin' });
const loginAnswer = z
  .object({
    token: z.string().describe('Operator session token (`fcos_…`): send as `Authorization: Bearer`'),
    state: sessionState.describe('What the session must do next; only `active` sessions reach other operator routes'),
    expiresAt: z.string().datetime().describe('Absolute end of the session (OPERATOR_SESSION_MAX_SECONDS); it also ends after OPERATOR_SESSION_IDLE_SECONDS idle'),
  })
  .meta({ id: 'OperatorSession' });

const meSchema = z
  .object({
    via: z.enum(['session', 'api-key', 'break-glass']),
    id: z.string(),
    name: z.string(),
    roles: z.array(z.enum(OPERATOR_ROLES)),
    email: z.string().optional(),
    sessionState: sessionState.optional(),
    passkeyCount: z.number().int().optional(),
  })
  .meta({ id: 'OperatorMe' });

export const operatorAuthRoutes = (deps: AppDeps) => [
  defineRoute({
    method: 'post',
    path: '/v1/operator/auth/login',
    operationId: 'operatorLogin',
    summary: 'Operator sign-in, step one: e-mail and password (then a password change, passkey enrolment or passkey)',
    tags: ['operator'],
    security: 'none',
    body: loginBody,
    bodyExample: { email: 'sato@forclinic.example', password: 'correct horse battery staple 1!' },
    responses: { 200: { description: 'A session in its next state', schema: loginAnswer } },
    problems: { 401: ['invalid_credentials'], 423: ['account_locked'], 429: ['rate_limited'] },
    handler: async (ctx, { body }) => {
      const r = await loginOperator(deps, actor(ctx).audit, { ...body, clientIp: ctx.state.clientIp, userAgent: userAgentOf(ctx) });
      ctx.body = { token: r.token, state: r.state, expiresAt: r.expiresAt.toISOString() };
    },
  }),
  defineRoute({
    ...every,
    method: 'post',
    path: '/v1/operator/auth/logout',
    operationId: 'operatorLogout',
    summary: 'End this operator session',
    operatorStates: [...SESSION_STATES],
    responses: { 204: { description: 'Signed out' } },
    problems: { 403: ['operator_session_required'] },
    handler: async (ctx) => {
      await logoutOperator(deps, operatorActor(ctx));
      ctx.status = 204;
    },
  }),
  defineRoute({
    ...every,
    method: 'get',
    path: '/v1/operator/me',
    operationId: 'operatorMe',
    summary: 'Who the caller is: a person (with the session\'s state), an API key, or break-glass',
    operatorStates: [...SESSION_STATES],
    responses: { 200: { description: 'The caller', schema: meSchema } },
    handler: async (ctx) => {
      ctx.body = await operatorMe(deps, operatorActor(ctx));
    },
  }),
  defineRoute({
    ...every,
    method: 'post',
    path: '/v1/operator/me/password',
    operationId: 'operatorChangePassword',
    summary: 'Change your own password (required at the first login); other sessions end',
    operatorStates: ['password_change_required', 'active'],
    body: z.strictObject({ currentPassword: password, newPassword: password }).meta({ id: 'OperatorPasswordChange' }),
    responses: { 200: { description: 'Changed; the session\'s next state', schema: z.object({ state: sessionState }) } },
    problems: { 400: ['invalid_current_password', 'password_policy'], 403: ['operator_session_required'], 423: ['account_locked'] },
    handler: async (ctx, { body }) => {
      ctx.body = await changeOperatorPassword(deps, operatorActor(ctx), body);
    },
  }),
  defineRoute({
    ...every,
    method: 'post',
    path: '/v1/operator/auth/passkeys/registration/options',
    operationId: 'operatorPasskeyRegistrationOptions',
    summary: 'Options for navigator.credentials.create() on the operators\' relying party (needs a proof in the last 5 minutes)',
    operatorStates: ['second_factor_enrollment_required', 'active'],
    responses: { 200: { description: 'PublicKeyCredentialCreationOptionsJSON', schema: z.record(z.string(), z.unknown()) } },
    problems: { 403: ['operator_session_required', 'reauthentication_required'] },
    handler: async (ctx) => {
      ctx.body = await operatorPasskeyRegistrationOptions(deps, operatorActor(ctx));
    },
  }),
  defineRoute({
    ...every,
    method: 'post',
    path: '/v1/operator/auth/passkeys/registration/verify',
    operationId: 'operatorPasskeyRegistrationVerify',
    summary: 'Register the passkey the browser created; an enrolling session is replaced by an active one',
    operatorStates: ['second_factor_enrollment_required', 'active'],
    body: z.strictObject({ response: credentialJson, name: nameText(64).optional() }),
    responses: {
      201: {
        description: 'Registered (when enrolling: a new, active session whose token is in the answer)',
        schema: z.object({ id: z.string().uuid(), name: z.string(), state: z.literal('active'), token: newToken.optional() }),
      },
    },
    problems: { 400: ['invalid_challenge', 'webauthn_verification_failed'], 403: ['operator_session_required', 'reauthentication_required'], 409: ['passkey_exists'] },
    handler: async (ctx, { body }) => {
      const { passkey, token } = await registerOperatorPasskey(deps, operatorActor(ctx), body);
      ctx.status = 201;
      ctx.body = { id: passkey.id, name: passkey.name, state: 'active', ...(token ? { token } : {}) };
    },
  }),
  defineRoute({
    ...every,
    method: 'post',
    path: '/v1/operator/auth/passkeys/authentication/options',
    operationId: 'operatorPasskeyAuthenticationOptions',
    summary: 'Options for navigator.credentials.get() over your passkeys: the second step of every sign-in, or a fresh proof',
    operatorStates: ['second_factor_required', 'active'],
    responses: { 200: { description: 'PublicKeyCredentialRequestOptionsJSON', schema: z.record(z.string(), z.unknown()) } },
    problems: { 403: ['operator_session_required'] },
    handler: async (ctx) => {
      ctx.body = await operatorPasskeyAuthenticationOptions(deps, operatorActor(ctx));
    },
  }),
  defineRoute({
    ...every,
    method: 'post',
    path: '/v1/operator/auth/passkeys/authentication/verify',
    operationId: 'operatorPasskeyAuthenticationVerify',
    summary: 'Verify the passkey assertion: completes sign-in with a new, active session (or re-proves an active one)',
    operatorStates: ['second_factor_required', 'active'],
    body: z.strictObject({ response: credentialJson }),
    responses: { 200: { description: 'Verified', schema: z.object({ state: z.literal('active'), token: newToken.optional() }) } },
    problems: { 400: ['invalid_challenge', 'webauthn_verification_failed'], 403: ['operator_session_required'] },
    handler: async (ctx, { body }) => {
      const { token } = await verifyOperatorPasskey(deps, operatorActor(ctx), body.response);
      ctx.body = { state: 'active', ...(token ? { token } : {}) };
    },
  }),
];
