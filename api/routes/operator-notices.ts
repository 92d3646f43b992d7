import { z } from 'zod';
import { cancelChangeNotice, createChangeNotice } from '../../application/notices/change-notices';
import { addIncidentClinics, declareIncident, postIncidentUpdate } from '../../application/notices/incidents';
import { getNoticeDetail, listNoticesOf } from '../../application/notices/read-notices';
import { createVulnerabilityNotice, updateVulnerabilityNotice } from '../../application/notices/vulnerability-notices';
import {
  addAffectedSchema,
  createChangeNoticeSchema,
  createVulnerabilityNoticeSchema,
  declareIncidentSchema,
  incidentUpdateSchema,
  vulnerabilityUpdateSchema,
} from '../../domain/notices';
import { actor } from '../actor';
import { defineRoute } from '../route';
import { idParams } from '../schemas';
import type { AppDeps } from '../app';
import { noticeDetailSchema, noticeListPageSchema } from './notice-schemas';

/** Operators' notices: validate, call one use case (application/notices/), respond. */
const detailQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(512).optional(),
});

const startedSchema = z
  .object({ id: z.string().uuid(), reference: z.string().describe('e.g. INC-2026-00042'), workflowId: z.string() })
  .meta({ id: 'NoticeStarted' });

/** Who reads notices: every operator role but platform-admin's alone. */
const noticeReaders = { method: 'get' as const, tags: ['operator', 'notices'], security: 'operator' as const, operatorRoles: ['security' as const, 'support' as const, 'viewer' as const] };

const noticeDetailRoute = (deps: AppDeps, kind: 'incident' | 'change', path: string, operationId: string, summary: string) =>
  defineRoute({
    ...noticeReaders,
    path,
    operationId,
    summary,
    params: idParams,
    query: detailQuery,
    responses: { 200: { description: 'The notice; `nextCursor` pages through its clinics', schema: noticeDetailSchema } },
    problems: [404],
    handler: async (ctx, { params, query }) => {
      ctx.body = await getNoticeDetail(deps, params.id, kind, query);
    },
  });

const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(512).optional(),
  open: z.enum(['true', 'false']).transform((v) => v === 'true').optional().describe('`true`: only those not yet closed (resolved, effective or cancelled)'),
});

/** The list of one kind of notice, newest first: what an operator reaches for without an id at hand. */
const noticeListRoute = (deps: AppDeps, kind: 'incident' | 'change' | 'vulnerability', path: string, operationId: string, summary: string) =>
  defineRoute({
    ...noticeReaders,
    path,
    operationId,
    summary,
    query: listQuery,
    responses: { 200: { description: 'A page of notices, newest first', schema: noticeListPageSchema } },
    handler: async (ctx, { query }) => {
      ctx.body = await listNoticesOf(deps, kind, query);
    },
  });

export const operatorNoticeRoutes = (deps: AppDeps) => [
  noticeListRoute(deps, 'incident', '/v1/operator/incidents', 'listIncidents', 'Security incidents declared, newest first, with their delivery totals'),
  noticeListRoute(deps, 'change', '/v1/operator/change-notices', 'listChangeNotices', 'Advance change notices, newest first, with their delivery totals'),
  noticeListRoute(deps, 'vulnerability', '/v1/operator/vulnerability-notices', 'listVulnerabilityNotices', 'Vulnerability notices, newest first'),
  defineRoute({
    method: 'post',
    path: '/v1/operator/incidents',
    operationId: 'declareIncident',
    summary: 'Declare a security incident: its workflow mails every contract address of the affected clinics (Japanese, then English)',
    tags: ['operator', 'notices'],
    security: 'operator',
    operatorRoles: ['security'],
    body: declareIncidentSchema,
    responses: { 202: { description: 'Declared; notification runs in incident/<id>', schema: startedSchema } },
    problems: [400],
    handler: async (ctx, { body }) => {
      const created = await declareIncident(deps, actor(ctx), body);
      ctx.status = 202;
      ctx.set('Location', `/v1/operator/incidents/${created.id}`);
      ctx.body = created;
    },
  }),
  noticeDetailRoute(deps, 'incident', '/v1/operator/incidents/:id', 'getIncident', 'An incident with per-clinic, per-address delivery state (a page of clinics) and the workflow\'s live progress'),
  defineRoute({
    method: 'patch',
    path: '/v1/operator/incidents/:id',
    operationId: 'addIncidentClinics',
    summary: 'Add affected clinics: each new one is mailed every message so far, then the later ones',
    tags: ['operator', 'notices'],
    security: 'operator',
    operatorRoles: ['security'],
    params: idParams,
    body: addAffectedSchema,
    responses: { 200: { description: 'Clinics added (already affected ones are not counted)', schema: z.object({ id: z.string().uuid(), added: z.number().int() }) } },
    problems: { 400: [], 404: [], 409: ['incident_resolved'] },
    handler: async (ctx, { params, body }) => {
      ctx.body = await addIncidentClinics(deps, actor(ctx), params.id, body.affectedTenantIds);
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/operator/incidents/:id/updates',
    operationId: 'postIncidentUpdate',
    summary: 'A follow-up, mailed to the same recipients; status "resolved" ends the incident',
    tags: ['operator', 'notices'],
    security: 'operator',
    operatorRoles: ['security'],
    params: idParams,
    body: incidentUpdateSchema,
    responses: { 202: { description: 'Recorded; mailing follows', schema: z.object({ id: z.string().uuid(), seq: z.number().int(), status: z.string() }).meta({ id: 'NoticeMessageCreated' }) } },
    problems: { 404: [], 409: ['incident_resolved', 'invalid_transition', 'too_many_updates'] },
    handler: async (ctx, { params, body }) => {
      ctx.status = 202;
      ctx.body = await postIncidentUpdate(deps, actor(ctx), params.id, body);
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/operator/change-notices',
    operationId: 'createChangeNotice',
    summary: 'Announce a change: mailed at once and again at the configured lead times before it takes effect',
    tags: ['operator', 'notices'],
    security: 'operator',
    operatorRoles: ['security'],
    body: createChangeNoticeSchema,
    responses: { 202: { description: 'Announced; mailing runs in change-notice/<id>', schema: startedSchema } },
    problems: { 400: ['too_late'] },
    handler: async (ctx, { body }) => {
      const created = await createChangeNotice(deps, actor(ctx), body);
      ctx.status = 202;
      ctx.set('Location', `/v1/operator/change-notices/${created.id}`);
      ctx.body = created;
    },
  }),
  noticeDetailRoute(deps, 'change', '/v1/operator/change-notices/:id', 'getChangeNotice', 'A change notice with per-clinic, per-address delivery state and the workflow\'s live progress'),
  defineRoute({
    method: 'delete',
    path: '/v1/operator/change-notices/:id',
    operationId: 'cancelChangeNotice',
    summary: 'Cancel a change before it takes effect; everyone already told gets a cancellation mail',
    tags: ['operator', 'notices'],
    security: 'operator',
    operatorRoles: ['security'],
    params: idParams,
    responses: { 202: { description: 'Cancelled; the cancellation mail follows', schema: z.object({ id: z.string().uuid(), status: z.literal('cancelled') }) } },
    problems: { 404: [], 409: ['invalid_transition'] },
    handler: async (ctx, { params }) => {
      ctx.status = 202;
      ctx.body = await cancelChangeNotice(deps, actor(ctx), params.id);
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/operator/vulnerability-notices',
    operationId: 'createVulnerabilityNotice',
    summary: 'Show a known vulnerability and what is being done about it on every user\'s top screen',
    tags: ['operator', 'notices'],
    security: 'operator',
    operatorRoles: ['security'],
    body: createVulnerabilityNoticeSchema,
    responses: { 201: { description: 'Created', schema: z.object({ id: z.string().uuid(), reference: z.string() }) } },
    handler: async (ctx, { body }) => {
      const created = await createVulnerabilityNotice(deps, actor(ctx), body);
      ctx.status = 201;
      ctx.set('Location', `/v1/operator/vulnerability-notices/${created.id}`);
      ctx.body = created;
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/operator/vulnerability-notices/:id',
    operationId: 'getVulnerabilityNotice',
    summary: 'A vulnerability notice with its status timeline',
    tags: ['operator', 'notices'],
    security: 'operator',
    operatorRoles: ['security', 'support', 'viewer'],
    params: idParams,
    responses: { 200: { description: 'The vulnerability notice', schema: noticeDetailSchema } },
    problems: [404],
    handler: async (ctx, { params }) => {
      ctx.body = await getNoticeDetail(deps, params.id, 'vulnerability', { limit: 1 });
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/operator/vulnerability-notices/:id/updates',
    operationId: 'updateVulnerabilityNotice',
    summary: 'A status change (investigating → mitigated → resolved), added to the timeline',
    tags: ['operator', 'notices'],
    security: 'operator',
    operatorRoles: ['security'],
    params: idParams,
    body: vulnerabilityUpdateSchema,
    responses: { 200: { description: 'The notice with its timeline', schema: noticeDetailSchema } },
    problems: { 404: [], 409: ['invalid_transition'] },
    handler: async (ctx, { params, body }) => {
      await updateVulnerabilityNotice(deps, actor(ctx), params.id, body);
      ctx.body = await getNoticeDetail(deps, params.id, 'vulnerability', { limit: 1 });
    },
  }),
];
