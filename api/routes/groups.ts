import { z } from 'zod';
import { createGroup } from '../../application/groups/create-group';
import { deleteGroup } from '../../application/groups/delete-group';
import { addGroupMember, removeGroupMember } from '../../application/groups/group-members';
import { listClinicGroups, readGroup } from '../../application/groups/read-groups';
import { updateGroup } from '../../application/groups/update-group';
import { nameText } from '../../domain/fields';
import { clinicActor, sessionActor } from '../actor';
import { defineRoute } from '../route';
import { idParams, optionalPageQuery, pathId } from '../schemas';
import { MAX_NAME_CURSOR_LENGTH } from '../../domain/pagination';
import { idInput } from '../../domain/ids';
import type { AppDeps } from '../app';

/** User groups (admins only): validate, call one use case (application/groups/), respond. */
const groupSchema = z
  .object({ id: z.string().uuid(), name: z.string(), memberIds: z.array(z.string().uuid()), createdAt: z.string(), updatedAt: z.string() })
  .meta({ id: 'Group' });
const name = nameText(100);
const memberIds = z.array(idInput()).max(1000);
const createBody = z.strictObject({ name, memberIds: memberIds.default([]) });
const patchBody = z
  .strictObject({ name: name.optional(), memberIds: memberIds.optional() })
  .refine((v) => v.name !== undefined || v.memberIds !== undefined, 'at least one of name, memberIds is required');
const memberBody = z.strictObject({ accountId: idInput() });
const memberParams = z.strictObject({ id: pathId, accountId: pathId });

const common = { tags: ['groups'], security: 'session' as const, roles: ['admin' as const], problems: [403, 404] };

export const groupRoutes = (deps: AppDeps) => [
  defineRoute({
    ...common,
    method: 'post',
    path: '/v1/groups',
    operationId: 'createGroup',
    summary: 'Create a user group',
    body: createBody,
    responses: { 201: { description: 'Created', schema: groupSchema } },
    problems: { 403: [], 404: [], 409: ['group_name_taken'] },
    handler: async (ctx, { body }) => {
      ctx.status = 201;
      ctx.body = await createGroup(deps, clinicActor(ctx), body);
    },
  }),
  defineRoute({
    ...common,
    method: 'get',
    path: '/v1/groups',
    operationId: 'listGroups',
    summary: 'User groups of your clinic by name: all of them, or with `limit` a page and `nextCursor` for the next (`cursor`)',
    query: optionalPageQuery(MAX_NAME_CURSOR_LENGTH),
    responses: { 200: { description: 'Groups', schema: z.object({ items: z.array(groupSchema), nextCursor: z.string().nullable() }) } },
    handler: async (ctx, { query }) => {
      ctx.body = await listClinicGroups(deps, clinicActor(ctx), query);
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
      ctx.body = await readGroup(deps, clinicActor(ctx), params.id);
    },
  }),
  defineRoute({
    ...common,
    method: 'patch',
    path: '/v1/groups/:id',
    operationId: 'updateGroup',
    summary: 'Rename a group or replace its members',
    description: 'A member list that adds anyone gives them the group\'s rights on process areas, so it needs a password or passkey proved by you in the last 5 minutes (403 `reauthentication_required`; `POST /v1/auth/reauthenticate`); renaming and removing members do not.',
    params: idParams,
    body: patchBody,
    responses: { 200: { description: 'The group', schema: groupSchema } },
    problems: { 403: ['reauthentication_required'], 404: [], 409: ['group_name_taken'] },
    handler: async (ctx, { params, body }) => {
      ctx.body = await updateGroup(deps, sessionActor(ctx), params.id, body);
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
      await deleteGroup(deps, clinicActor(ctx), params.id);
      ctx.status = 204;
    },
  }),
  defineRoute({
    ...common,
    method: 'post',
    path: '/v1/groups/:id/members',
    operationId: 'addGroupMember',
    summary: 'Add an account to a group',
    description: 'The member gets every right the group has on process areas, so this needs a password or passkey proved by you in the last 5 minutes (403 `reauthentication_required`; `POST /v1/auth/reauthenticate`). Removing a member does not.',
    params: idParams,
    body: memberBody,
    problems: { 403: ['reauthentication_required'], 404: [] },
    responses: { 200: { description: 'The group', schema: groupSchema } },
    handler: async (ctx, { params, body }) => {
      ctx.body = await addGroupMember(deps, sessionActor(ctx), params.id, body.accountId);
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
      await removeGroupMember(deps, clinicActor(ctx), params.id, params.accountId);
      ctx.status = 204;
    },
  }),
];
