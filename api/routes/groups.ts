import { z } from 'zod';
import { recordAudit } from '../../db/audit';
import { addMember, createGroup, deleteGroup, getGroup, listGroups, removeMember, updateGroup } from '../../db/groups';
import { withTenant } from '../../db/tenant-scope';
import { displayText } from '../../domain/fields';
import { auditContext as auditOf } from '../audit-context';
import { defineRoute } from '../route';
import { idParams } from '../schemas';
import type { AppDeps } from '../app';
import type { ParameterizedContext } from 'koa';
import type { AppState } from '../state';

const groupSchema = z
  .object({ id: z.string().uuid(), name: z.string(), memberIds: z.array(z.string().uuid()), createdAt: z.string(), updatedAt: z.string() })
  .meta({ id: 'Group' });
const name = displayText(100);
const memberIds = z.array(z.string().max(64)).max(1000);
const createBody = z.strictObject({ name, memberIds: memberIds.default([]) });
const patchBody = z
  .strictObject({ name: name.optional(), memberIds: memberIds.optional() })
  .refine((v) => v.name !== undefined || v.memberIds !== undefined, 'at least one of name, memberIds is required');
const memberBody = z.strictObject({ accountId: z.string().max(64) });
const memberParams = z.strictObject({ id: z.string().min(1).max(64), accountId: z.string().min(1).max(64) });

const common = { tags: ['groups'], security: 'session' as const, roles: ['admin' as const], problems: [403, 404] };

export const groupRoutes = (deps: AppDeps) => {
  const inTenant = <T>(ctx: ParameterizedContext<AppState>, fn: Parameters<typeof withTenant<T>>[2]) => withTenant(deps.db, ctx.state.auth!.tenantId, fn);
  return [
    defineRoute({
      ...common,
      method: 'post',
      path: '/v1/groups',
      operationId: 'createGroup',
      summary: 'Create a user group',
      body: createBody,
      responses: { 201: { description: 'Created', schema: groupSchema } },
      problems: [403, 404, 409],
      handler: async (ctx, { body }) => {
        ctx.status = 201;
        ctx.body = await inTenant(ctx, async (trx) => {
          const group = await createGroup(trx, body);
          await recordAudit(trx, auditOf(ctx), { action: 'group.create', outcome: 'success', targetType: 'group', targetId: group.id, details: { members: group.memberIds.length } });
          return group;
        });
      },
    }),
    defineRoute({
      ...common,
      method: 'get',
      path: '/v1/groups',
      operationId: 'listGroups',
      summary: 'User groups of your clinic',
      responses: { 200: { description: 'Groups', schema: z.object({ items: z.array(groupSchema) }) } },
      handler: async (ctx) => {
        ctx.body = { items: await inTenant(ctx, (trx) => listGroups(trx)) };
      },
    }),
    defineRoute({
      ...common,
      method: 'get',
      path: '/v1/groups/:id',
      operationId: 'getGroup',
      summary: 'One group with its members',
      params: idParams,
      responses: { 200: { description: 'The group', schema: groupSchema } },
      handler: async (ctx, { params }) => {
        ctx.body = await inTenant(ctx, (trx) => getGroup(trx, params.id));
      },
    }),
    defineRoute({
      ...common,
      method: 'patch',
      path: '/v1/groups/:id',
      operationId: 'updateGroup',
      summary: 'Rename a group or replace its members',
      params: idParams,
      body: patchBody,
      responses: { 200: { description: 'The group', schema: groupSchema } },
      problems: [403, 404, 409],
      handler: async (ctx, { params, body }) => {
        ctx.body = await inTenant(ctx, async (trx) => {
          const group = await updateGroup(trx, params.id, body);
          await recordAudit(trx, auditOf(ctx), { action: 'group.update', outcome: 'success', targetType: 'group', targetId: group.id, details: { fields: Object.keys(body) } });
          return group;
        });
      },
    }),
    defineRoute({
      ...common,
      method: 'delete',
      path: '/v1/groups/:id',
      operationId: 'deleteGroup',
      summary: 'Delete a group',
      params: idParams,
      responses: { 204: { description: 'Deleted' } },
      handler: async (ctx, { params }) => {
        await inTenant(ctx, async (trx) => {
          await deleteGroup(trx, params.id);
          await recordAudit(trx, auditOf(ctx), { action: 'group.delete', outcome: 'success', targetType: 'group', targetId: params.id });
        });
        ctx.status = 204;
      },
    }),
    defineRoute({
      ...common,
      method: 'post',
      path: '/v1/groups/:id/members',
      operationId: 'addGroupMember',
      summary: 'Add an account to a group',
      params: idParams,
      body: memberBody,
      responses: { 200: { description: 'The group', schema: groupSchema } },
      handler: async (ctx, { params, body }) => {
        ctx.body = await inTenant(ctx, async (trx) => {
          const group = await addMember(trx, params.id, body.accountId);
          await recordAudit(trx, auditOf(ctx), { action: 'group.member_add', outcome: 'success', targetType: 'group', targetId: params.id, details: { accountId: body.accountId } });
          return group;
        });
      },
    }),
    defineRoute({
      ...common,
      method: 'delete',
      path: '/v1/groups/:id/members/:accountId',
      operationId: 'removeGroupMember',
      summary: 'Remove an account from a group',
      params: memberParams,
      responses: { 204: { description: 'Removed' } },
      handler: async (ctx, { params }) => {
        await inTenant(ctx, async (trx) => {
          await removeMember(trx, params.id, params.accountId);
          await recordAudit(trx, auditOf(ctx), { action: 'group.member_remove', outcome: 'success', targetType: 'group', targetId: params.id, details: { accountId: params.accountId } });
        });
        ctx.status = 204;
      },
    }),
  ];
};
