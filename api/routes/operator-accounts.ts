import { z } from 'zod';
import { createApiKey, listAllApiKeys, revokeApiKeyById, type ApiKeyView } from '../../application/operators/api-keys';
import { createOperator, listAllOperators, resetOperator, updateOperatorAccount, type OperatorView } from '../../application/operators/manage-operators';
import { OPERATOR_ROLES } from '../../domain/operator-roles';
import { API_KEY_MAX_SECONDS, API_KEY_MIN_SECONDS, OPERATOR_STATES, operatorRolesSchema } from '../../domain/operators';
import { operatorActor } from '../actor';
import { defineRoute } from '../route';
import { idParams } from '../schemas';
import type { AppDeps } from '../app';
import { nameText } from '../../domain/fields';
import { emailAddress } from '../../domain/fields';

/** Operators and API keys, managed by platform admins (README: Operators). Every change is in the platform's operation log. */
const admins = { tags: ['operator'], security: 'operator' as const, operatorRoles: ['platform-admin' as const] };
const utc = z.string().datetime();
const roles = z.array(z.enum(OPERATOR_ROLES));

const operatorSchema = z
  .object({
    id: z.string().uuid(),
    email: z.string(),
    name: z.string(),
    roles,
    state: z.enum(OPERATOR_STATES),
    locked: z.boolean(),
    passkeyCount: z.number().int(),
    lastLoginAt: utc.nullable(),
    createdAt: utc,
  })
  .meta({ id: 'Operator' });
const toOperator = (o: OperatorView) => ({ ...o, lastLoginAt: o.lastLoginAt?.toISOString() ?? null, createdAt: o.createdAt.toISOString() });

const apiKeySchema = z
  .object({
    id: z.string().uuid(),
    name: z.string(),
    roles,
    hint: z.string().describe('The key\'s first characters, to match a leaked key to its row'),
    status: z.enum(['active', 'expired', 'revoked']),
    createdBy: z.string(),
    createdAt: utc,
    expiresAt: utc,
    revokedAt: utc.nullable(),
    lastUsedAt: utc.nullable(),
    lastUsedIp: z.string().nullable(),
  })
  .meta({ id: 'OperatorApiKey' });
const iso = (d: Date | null) => d?.toISOString() ?? null;
const toApiKey = (k: ApiKeyView) => ({
  id: k.id,
  name: k.name,
  roles: k.roles,
  hint: k.hint,
  status: k.status,
  createdBy: k.createdBy,
  createdAt: k.createdAt.toISOString(),
  expiresAt: k.expiresAt.toISOString(),
  revokedAt: iso(k.revokedAt),
  lastUsedAt: iso(k.lastUsedAt),
  lastUsedIp: k.lastUsedIp,
});

const name = nameText(200);
const newOperator = z.strictObject({ email: emailAddress, name, roles: operatorRolesSchema }).meta({ id: 'NewOperator' });
const operatorPatch = z
  .strictObject({ roles: operatorRolesSchema.optional(), state: z.enum(OPERATOR_STATES).optional(), name: name.optional() })
  .refine((p) => Object.keys(p).length > 0, 'name at least one of roles, state, name')
  .meta({ id: 'OperatorPatch' });
const newApiKey = z
  .strictObject({
    name: nameText(100),
    roles: operatorRolesSchema,
    expiresInSeconds: z.number().int().min(API_KEY_MIN_SECONDS).max(API_KEY_MAX_SECONDS),
  })
  .meta({ id: 'NewOperatorApiKey' });

export const operatorAccountRoutes = (deps: AppDeps) => [
  defineRoute({
    ...admins,
    method: 'get',
    path: '/v1/operator/operators',
    operationId: 'listOperators',
    summary: 'Every operator account, oldest first',
    responses: { 200: { description: 'Operators', schema: z.object({ items: z.array(operatorSchema) }).meta({ id: 'OperatorList' }) } },
    handler: async (ctx) => {
      ctx.body = { items: (await listAllOperators(deps)).map(toOperator) };
    },
  }),
  defineRoute({
    ...admins,
    method: 'post',
    path: '/v1/operator/operators',
    notByApiKey: true,
    operatorFreshProof: true,
    operationId: 'createOperator',
    summary: 'Create an operator; the answer shows the one-time initial password (changed at the first login, with passkey enrolment)',
    body: newOperator,
    bodyExample: { email: 'sato@forclinic.example', name: '佐藤 花子', roles: ['support'] },
    responses: { 201: { description: 'Created', schema: z.object({ operator: operatorSchema, initialPassword: z.string() }) } },
    description: 'Giving `security` (the role that reads the security events and the platform log) needs an operator who holds it (403 `role_not_held`). Every operator created is mailed to SECURITY_EMAILS.',
    problems: { 403: ['role_not_held'], 409: ['operator_exists'] },
    handler: async (ctx, { body }) => {
      const caller = operatorActor(ctx);
      const { operator, initialPassword } = await createOperator(deps, caller.audit, body, caller.operator.roles);
      ctx.status = 201;
      ctx.body = { operator: toOperator(operator), initialPassword };
    },
  }),
  defineRoute({
    ...admins,
    method: 'patch',
    path: '/v1/operator/operators/:id',
    notByApiKey: true,
    // Roles and re-enabling hand out access; a rename or disabling (taking it away, in a hurry) does not.
    operatorFreshProof: (body) => body.roles !== undefined || body.state === 'active',
    operationId: 'updateOperator',
    summary: 'Change an operator\'s roles or name, or disable (sessions end at once) or re-enable them',
    params: idParams,
    body: operatorPatch,
    responses: { 200: { description: 'Updated', schema: operatorSchema } },
    description:
      'Giving or taking `security` needs an operator who holds it (403 `role_not_held`); disabling does not. `security` goes only to an operator whose current password was issued (at creation or reset) by someone holding it, break-glass or the host: else 409 `reset_by_security_required` (reset them yourself first). ' +
      'No one adds a role to themselves (409 `own_account`). Roles given and re-enabling are mailed to SECURITY_EMAILS.',
    problems: { 403: ['role_not_held'], 409: ['own_account', 'last_platform_admin', 'reset_by_security_required'] },
    handler: async (ctx, { params, body }) => {
      const caller = operatorActor(ctx);
      ctx.body = toOperator(await updateOperatorAccount(deps, caller.audit, params.id, body, caller.operator.roles));
    },
  }),
  defineRoute({
    ...admins,
    method: 'post',
    path: '/v1/operator/operators/:id/reset',
    notByApiKey: true,
    operatorFreshProof: true,
    operationId: 'resetOperator',
    summary: 'Reset an operator: a new one-time initial password; passkeys and sessions removed, lockout lifted',
    description:
      'Whoever resets an operator can sign in as them until the password is changed: an operator holding `security` is reset only by an operator who holds it too (403 `role_not_held`), ' +
      'and every reset is mailed to the operator and to SECURITY_EMAILS, naming who did it.',
    params: idParams,
    problems: { 403: ['role_not_held'], 404: [] },
    responses: { 200: { description: 'Reset', schema: z.object({ initialPassword: z.string() }) } },
    handler: async (ctx, { params }) => {
      const caller = operatorActor(ctx);
      ctx.body = await resetOperator(deps, caller.audit, params.id, caller.operator.roles);
    },
  }),
  defineRoute({
    ...admins,
    method: 'get',
    path: '/v1/operator/api-keys',
    operationId: 'listOperatorApiKeys',
    summary: 'API keys for automation, newest first, with their last use (never their secrets)',
    responses: { 200: { description: 'API keys', schema: z.object({ items: z.array(apiKeySchema) }).meta({ id: 'OperatorApiKeyList' }) } },
    handler: async (ctx) => {
      ctx.body = { items: (await listAllApiKeys(deps)).map(toApiKey) };
    },
  }),
  defineRoute({
    ...admins,
    method: 'post',
    path: '/v1/operator/api-keys',
    notByApiKey: true,
    operatorFreshProof: true,
    operationId: 'createOperatorApiKey',
    summary: 'Create a named API key with roles and an expiry; the secret (`fcop_…`) is shown only in this answer',
    description: 'A key gets `security` (the role that reads the security events and the platform log) only from an operator who holds it (403 `role_not_held`).',
    body: newApiKey,
    problems: { 403: ['role_not_held'] },
    bodyExample: { name: 'nightly-report', roles: ['viewer'], expiresInSeconds: 7_776_000 },
    responses: { 201: { description: 'Created', schema: z.object({ apiKey: apiKeySchema, key: z.string().describe('Send as `Authorization: Bearer`; not shown again') }) } },
    handler: async (ctx, { body }) => {
      const caller = operatorActor(ctx);
      const { apiKey, key } = await createApiKey(deps, caller.audit, body, caller.operator.roles);
      ctx.status = 201;
      ctx.body = { apiKey: toApiKey(apiKey), key };
    },
  }),
  defineRoute({
    ...admins,
    method: 'delete',
    path: '/v1/operator/api-keys/:id',
    notByApiKey: true,
    operationId: 'revokeOperatorApiKey',
    summary: 'Revoke an API key at once (kept, listed as revoked)',
    params: idParams,
    responses: { 204: { description: 'Revoked' } },
    handler: async (ctx, { params }) => {
      await revokeApiKeyById(deps, operatorActor(ctx).audit, params.id);
      ctx.status = 204;
    },
  }),
];
