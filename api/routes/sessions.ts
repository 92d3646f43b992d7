import { z } from 'zod';
import { endOtherOwnSessions, endOwnSession, listOwnSessions } from '../../application/auth/own-sessions';
import { SESSION_STATES } from '../../domain/sign-in';
import { sessionActor } from '../actor';
import { defineRoute } from '../route';
import { idParams } from '../schemas';
import type { AppDeps } from '../app';

/** Where one is signed in, and ending it: validate, call one use case (application/auth/own-sessions.ts), respond. */
export const sessionSchema = z
  .object({
    id: z.string().uuid(),
    current: z.boolean().describe('The session this request came with'),
    state: z.enum(SESSION_STATES),
    clientIp: z.string().nullable().describe('Where it signed in from'),
    userAgent: z.string().nullable(),
    createdAt: z.string(),
    lastSeenAt: z.string().describe('Its last use, to the minute'),
    expiresAt: z.string().describe('When it ends unless used again (idle timeout) or at the latest (lifetime)'),
    passkeyVerified: z.boolean().describe('It presented a passkey still registered'),
    newDevice: z.boolean().describe('It began as a sign-in from a device or network the account had not used lately (its holder was mailed, up to 3 notices a day)'),
  })
  .meta({ id: 'Session' });

export const sessionList = z.object({ items: z.array(sessionSchema) });

const own = { tags: ['auth'], security: 'session' as const };

export const sessionRoutes = (deps: AppDeps) => [
  defineRoute({
    ...own,
    method: 'get',
    path: '/v1/auth/sessions',
    operationId: 'listOwnSessions',
    summary: 'Where you are signed in: your live sessions, most recently used first',
    responses: { 200: { description: 'Your live sessions (at most 20)', schema: sessionList } },
    handler: async (ctx) => {
      ctx.body = await listOwnSessions(deps, sessionActor(ctx));
    },
  }),
  defineRoute({
    ...own,
    method: 'delete',
    path: '/v1/auth/sessions',
    // Taking access away stays possible while the clinic is read-only after its contract ended. Unlike
    // logout it is not let through from outside the allowlist or while suspended: a token stolen and
    // used from elsewhere must not be able to sign its holder out of every device, again and again.
    openAfterContractEnd: true,
    operationId: 'endOtherOwnSessions',
    summary: 'Sign out everywhere else: end every live session of your account but this one',
    description: '`except=current` is required, so that a client that builds `/v1/auth/sessions/{id}` with an empty id (or a trailing slash) gets a 400 instead of ending every other session.',
    // Said in the request: an empty id in `/v1/auth/sessions/${id}` must not become "end all the others".
    query: z.strictObject({ except: z.literal('current').describe('Keep the session this request comes with (the only choice)') }),
    responses: { 200: { description: 'How many sessions ended', schema: z.object({ ended: z.number().int() }) } },
    handler: async (ctx) => {
      ctx.body = await endOtherOwnSessions(deps, sessionActor(ctx));
    },
  }),
  defineRoute({
    ...own,
    method: 'delete',
    path: '/v1/auth/sessions/:id',
    openAfterContractEnd: true,
    operationId: 'endOwnSession',
    summary: 'End one of your sessions (a device you no longer use or do not know); this one too, as a logout',
    params: idParams,
    responses: { 204: { description: 'Ended' } },
    problems: [404],
    handler: async (ctx, { params }) => {
      await endOwnSession(deps, sessionActor(ctx), params.id);
      ctx.status = 204;
    },
  }),
];
