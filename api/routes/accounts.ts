import { z } from 'zod';
import { createAccount } from '../../application/accounts/create-account';
import { resetPassword } from '../../application/accounts/reset-password';
import { deleteAccount, getAccount, listAccounts, toView, unlockAccount, updateAccount } from '../../db/accounts';
import { actor, clinicActor } from '../actor';
import { recordAudit } from '../../db/audit';
import { getSettings } from '../../db/settings';
import { withTenant } from '../../db/tenant-scope';
import { getTenant } from '../../db/tenants';
import { ONBOARDING_STATES } from '../../domain/onboarding';
import { decodeCursor, encodeCursor } from '../../domain/pagination';
import { createAccountSchema, createAdminSchema, updateAccountSchema } from '../../domain/account';
import { serviceUnavailable } from '../../domain/problems';
import { auditContext } from '../audit-context';
import { defineRoute } from '../route';
import type { AppDeps } from '../app';
import type { ParameterizedContext } from 'koa';
import type { AppState } from '../state';


export const accountSchema = z
  .object({
    id: z.string().uuid(),
    loginId: z.string(),
    email: z.string(),
    displayName: z.string(),
    roles: z.array(z.string()),
    disabled: z.boolean(),
    onboardingState: z.enum(ONBOARDING_STATES),
    locked: z.boolean(),
    lockedUntil: z.string().nullable(),
    passkeyCount: z.number().int(),
    lastLoginAt: z.string().nullable(),
    passwordChangedAt: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Account' });

const created = z.object({ accountId: z.string().uuid(), initialPassword: z.string().describe('Shown once; never retrievable again') });
const accountParams = z.strictObject({ id: z.string().min(1).max(64) });
const tenantParams = z.strictObject({ tenantId: z.string().min(1).max(64) });
const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(512).optional(),
});

export const accountRoutes = (deps: AppDeps) => [
  defineRoute({
    method: 'post',
    path: '/v1/operator/tenants/:tenantId/admins',
    operationId: 'createClinicAdmin',
    summary: 'Create a clinic\'s administrator (operator only)',
    tags: ['operator'],
    security: 'operator',
    params: tenantParams,
    body: createAdminSchema,
    responses: { 201: { description: 'Created; hand the initial password over out of band', schema: created } },
    problems: [404, 409],
    handler: async (ctx, { params, body }) => {
      const tenant = await getTenant(deps.db, params.tenantId);
      ctx.status = 201;
      ctx.body = await createAccount(deps, actor(ctx), tenant.id, { ...body, roles: ['admin'] });
    },
  }),

  defineRoute({
    method: 'post',
    path: '/v1/accounts',
    operationId: 'createAccount',
    summary: 'Create an account in your clinic',
    tags: ['accounts'],
    security: 'session',
    roles: ['admin'],
    body: createAccountSchema,
    responses: { 201: { description: 'Created; the initial password is shown only now', schema: created } },
    problems: [403, 409],
    handler: async (ctx, { body }) => {
      ctx.status = 201;
      ctx.body = await createAccount(deps, actor(ctx), ctx.state.auth!.tenantId, body);
    },
  }),

  defineRoute({
    method: 'get',
    path: '/v1/accounts',
    operationId: 'listAccounts',
    summary: 'Accounts of your clinic, oldest first',
    tags: ['accounts'],
    security: 'session',
    roles: ['admin'],
    query: listQuery,
    responses: { 200: { description: 'A page of accounts', schema: z.object({ items: z.array(accountSchema), nextCursor: z.string().nullable() }) } },
    problems: [403],
    handler: async (ctx, { query }) => {
      const after = decodeCursor(query.cursor);
      ctx.body = await withTenant(deps.db, ctx.state.auth!.tenantId, async (trx) => {
        const page = await listAccounts(trx, { limit: query.limit, after });
        return { items: await Promise.all(page.rows.map((a) => toView(trx, a))), nextCursor: page.next ? encodeCursor(page.next) : null };
      });
    },
  }),

  defineRoute({
    method: 'get',
    path: '/v1/accounts/:id',
    operationId: 'getAccount',
    summary: 'One account, with its onboarding state',
    tags: ['accounts'],
    security: 'session',
    roles: ['admin'],
    params: accountParams,
    responses: { 200: { description: 'The account', schema: accountSchema } },
    problems: [403, 404],
    handler: async (ctx, { params }) => {
      ctx.body = await withTenant(deps.db, ctx.state.auth!.tenantId, async (trx) => toView(trx, await getAccount(trx, params.id)));
    },
  }),

  defineRoute({
    method: 'patch',
    path: '/v1/accounts/:id',
    operationId: 'updateAccount',
    summary: 'Change roles, display name, e-mail or disabled; the last active admin cannot be removed',
    tags: ['accounts'],
    security: 'session',
    roles: ['admin'],
    params: accountParams,
    body: updateAccountSchema,
    responses: { 200: { description: 'The updated account', schema: accountSchema } },
    problems: [403, 404, 409],
    handler: async (ctx, { params, body }) => {
      ctx.body = await withTenant(deps.db, ctx.state.auth!.tenantId, async (trx) => {
        const before = await getAccount(trx, params.id);
        const updated = await updateAccount(trx, params.id, body);
        await recordAudit(trx, auditContext(ctx), {
          action: body.roles ? 'account.roles_change' : 'account.update',
          outcome: 'success',
          targetType: 'account',
          targetId: params.id,
          details: { fields: Object.keys(body), ...(body.roles ? { from: before.roles, to: body.roles } : {}), ...(body.disabled !== undefined ? { disabled: body.disabled } : {}) },
        });
        return toView(trx, updated);
      });
    },
  }),

  defineRoute({
    method: 'delete',
    path: '/v1/accounts/:id',
    operationId: 'deleteAccount',
    summary: 'Delete an account (its sessions and passkeys go with it)',
    tags: ['accounts'],
    security: 'session',
    roles: ['admin'],
    params: accountParams,
    responses: { 204: { description: 'Deleted' } },
    problems: [403, 404, 409],
    handler: async (ctx, { params }) => {
      await withTenant(deps.db, ctx.state.auth!.tenantId, async (trx) => {
        await deleteAccount(trx, params.id);
        await recordAudit(trx, auditContext(ctx), { action: 'account.delete', outcome: 'success', targetType: 'account', targetId: params.id });
      });
      ctx.status = 204;
    },
  }),

  defineRoute({
    method: 'post',
    path: '/v1/accounts/:id/reset-password',
    operationId: 'resetAccountPassword',
    summary: 'Issue a new initial password; onboarding starts over and all sessions end',
    tags: ['accounts'],
    security: 'session',
    roles: ['admin'],
    params: accountParams,
    responses: { 200: { description: 'The new initial password, shown once', schema: z.object({ initialPassword: z.string() }) } },
    problems: [403, 404],
    handler: async (ctx, { params }) => {
      ctx.body = await resetPassword(deps, clinicActor(ctx), params.id);
    },
  }),

  defineRoute({
    method: 'post',
    path: '/v1/accounts/:id/unlock',
    operationId: 'unlockAccount',
    summary: 'Lift a lockout after failed logins',
    tags: ['accounts'],
    security: 'session',
    roles: ['admin'],
    params: accountParams,
    responses: { 204: { description: 'Unlocked' } },
    problems: [403, 404],
    handler: async (ctx, { params }) => {
      await withTenant(deps.db, ctx.state.auth!.tenantId, async (trx) => {
        await unlockAccount(trx, params.id);
        await recordAudit(trx, auditContext(ctx), { action: 'account.unlock', outcome: 'success', targetType: 'account', targetId: params.id });
      });
      ctx.status = 204;
    },
  }),
];
