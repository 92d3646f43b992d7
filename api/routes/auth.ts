import { z } from 'zod';
import { changePassword } from '../../application/auth/change-password';
import { login } from '../../application/auth/login';
import { logout } from '../../application/auth/logout';
import { reauthenticate } from '../../application/auth/reauthenticate';
import { readMe } from '../../application/auth/me';
import { SESSION_STATES } from '../../domain/sign-in';
import { actor, sessionActor } from '../actor';
import { defineRoute } from '../route';
import type { AppDeps } from '../app';
import { userAgentOf } from '../user-agent';

/** Signing in and out, the password, and who you are: validate, call one use case (application/auth/), respond. */
const loginBody = z.strictObject({
  tenant: z.string().min(1).max(63),
  loginId: z.string().min(1).max(256),
  password: z.string().min(1).max(4096),
});

const changePasswordBody = z.strictObject({
  currentPassword: z.string().min(1).max(4096),
  newPassword: z.string().min(1).max(4096),
});

const reauthenticateBody = z.strictObject({ password: z.string().min(1).max(4096) });

const loginReply = z.object({
  token: z.string(),
  state: z.enum(SESSION_STATES),
  previousSignIn: z
    .object({ at: z.string(), clientIp: z.string().nullable() })
    .nullable()
    .describe('The account\'s sign-in before this one (前回のログイン), to show the holder at once. Only with an active session: when a passkey is still to be presented, the passkey step answers it. Null when none is kept (the first time, or after 30 days away)'),
});

export const authRoutes = (deps: AppDeps) => [
  defineRoute({
    method: 'post',
    path: '/v1/auth/login',
    operationId: 'login',
    summary: 'Log in with clinic, login ID and password; the answer says what must happen next',
    tags: ['auth'],
    security: 'none',
    body: loginBody,
    bodyExample: { tenant: 'sakura', loginId: 'tanaka', password: 'correct horse battery staple 7!' },
    responses: { 200: { description: 'A session token and its state', schema: loginReply } },
    problems: { 401: ['invalid_credentials'], 403: ['ip_not_allowed'], 423: ['account_locked'], 429: ['rate_limited'] },
    handler: async (ctx, { body }) => {
      ctx.body = await login(deps, actor(ctx), { ...body, clientIp: ctx.state.clientIp, userAgent: userAgentOf(ctx) });
    },
  }),

  defineRoute({
    method: 'post',
    path: '/v1/auth/logout',
    // Signing in, out and proving who one is keep working while the clinic is read-only after its contract ended.
    openAfterContractEnd: true,
    operationId: 'logout',
    summary: 'End this session',
    tags: ['auth'],
    security: 'session',
    states: [...SESSION_STATES],
    endsOwnSession: true,
    responses: { 204: { description: 'Logged out (also while the clinic is suspended, and from outside its allowlist)' } },
    handler: async (ctx) => {
      await logout(deps, sessionActor(ctx));
      ctx.status = 204;
    },
  }),

  defineRoute({
    method: 'post',
    path: '/v1/auth/password',
    // Signing in, out and proving who one is keep working while the clinic is read-only after its contract ended.
    openAfterContractEnd: true,
    operationId: 'changePassword',
    summary: 'Change your own password; every other session of the account is revoked',
    tags: ['auth'],
    security: 'session',
    states: ['active', 'password_change_required'],
    body: changePasswordBody,
    bodyExample: { currentPassword: 'the initial password', newPassword: 'Sakura-2026-clinic!' },
    responses: { 204: { description: 'Changed' } },
    problems: { 400: ['invalid_current_password', 'initial_password_expired', 'password_policy'], 423: ['account_locked'], 429: ['rate_limited'] },
    handler: async (ctx, { body }) => {
      await changePassword(deps, sessionActor(ctx), body);
      ctx.status = 204;
    },
  }),

  defineRoute({
    method: 'post',
    path: '/v1/auth/reauthenticate',
    // Signing in, out and proving who one is keep working while the clinic is read-only after its contract ended.
    openAfterContractEnd: true,
    operationId: 'reauthenticate',
    summary: 'Confirm your password again: adding or removing a passkey needs a proof from the last 5 minutes (wrong passwords count toward the lockout)',
    tags: ['auth'],
    security: 'session',
    states: ['active', 'second_factor_enrollment_required'],
    body: reauthenticateBody,
    responses: { 204: { description: 'Confirmed' } },
    problems: { 400: ['invalid_current_password', 'initial_password_expired'], 423: ['account_locked'], 429: ['rate_limited'] },
    handler: async (ctx, { body }) => {
      await reauthenticate(deps, sessionActor(ctx), body.password);
      ctx.status = 204;
    },
  }),

  defineRoute({
    method: 'get',
    path: '/v1/me',
    operationId: 'getMe',
    summary: 'The signed-in account and its clinic',
    tags: ['auth'],
    security: 'session',
    responses: {
      200: {
        description: 'You',
        schema: z.object({
          accountId: z.string().uuid(),
          loginId: z.string(),
          displayName: z.string(),
          email: z.string(),
          roles: z.array(z.string()),
          passkeyCount: z.number().int(),
          clinic: z.object({ id: z.string().uuid(), slug: z.string(), name: z.string() }),
        }),
      },
    },
    handler: async (ctx) => {
      // The account and the clinic as authentication loaded them.
      ctx.body = { ...readMe(ctx.state.auth!), clinic: ctx.state.auth!.clinic };
    },
  }),
];
