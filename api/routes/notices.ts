import { z } from 'zod';
import { reportIncident } from '../../application/notices/incident-reports';
import { listNotices, markRead } from '../../application/notices/read-notices';
import { incidentReportSchema, noticeFeedQuery } from '../../domain/notices';
import { clinicActor } from '../actor';
import { defineRoute } from '../route';
import { idParams } from '../schemas';
import type { AppDeps } from '../app';
import { feedPageSchema } from './notice-schemas';

/** The clinics' side of notices: the top screen's feed, read marks, and reporting an incident. */
export const noticeRoutes = (deps: AppDeps) => [
  defineRoute({
    method: 'get',
    path: '/v1/notices',
    operationId: 'listNotices',
    summary: 'The top screen: open vulnerability notices, upcoming changes and incidents affecting your clinic, newest first, with your read marks',
    tags: ['notices'],
    security: 'session',
    query: noticeFeedQuery,
    responses: { 200: { description: 'A page of notices', schema: feedPageSchema } },
    problems: [400],
    handler: async (ctx, { query }) => {
      ctx.body = await listNotices(deps, clinicActor(ctx), query);
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/notices/:id/read',
    operationId: 'markNoticeRead',
    summary: 'Mark a notice read for your account',
    tags: ['notices'],
    security: 'session',
    params: idParams,
    responses: { 204: { description: 'Marked read (again is fine)' } },
    problems: [404],
    handler: async (ctx, { params }) => {
      await markRead(deps, clinicActor(ctx), params.id);
      ctx.status = 204;
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/incident-reports',
    operationId: 'reportIncident',
    summary: 'Report a suspected security incident: the operators get it, your contract addresses an acknowledgement',
    tags: ['notices'],
    security: 'session',
    body: incidentReportSchema,
    problems: { 429: ['rate_limited'] },
    responses: { 202: { description: 'Received', schema: z.object({ id: z.string().uuid(), reference: z.string().describe('e.g. RPT-2026-00007') }).meta({ id: 'IncidentReportReceived' }) } },
    handler: async (ctx, { body }) => {
      const report = await reportIncident(deps, clinicActor(ctx), body);
      ctx.status = 202;
      ctx.body = { id: report.id, reference: report.reference };
    },
  }),
];
