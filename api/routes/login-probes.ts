import { z } from 'zod';
import { listClinicLoginProbes, listUnknownClinicLoginProbes } from '../../application/security/login-probes';
import { loginProbeQuery } from '../../domain/login-probes';
import { clinicActor } from '../actor';
import { CLINIC_RECORD_READERS, defineRoute } from '../route';
import type { AppDeps } from '../app';

/** The probe record: validate, call one use case (application/security/), respond. */
const probeSchema = z
  .object({
    minute: z.string().describe('UTC, the start of the minute'),
    clientNet: z.string().describe('The source: an IPv4 address or an IPv6 /64'),
    attempts: z.number().int(),
    loginIdHashes: z.array(z.string()).describe('HMACs of the login IDs tried (at most 20 per row), never the IDs themselves'),
  })
  .meta({ id: 'LoginProbe' });
const probePage = z.object({ items: z.array(probeSchema), nextCursor: z.string().nullable() });

export const loginProbeRoutes = (deps: AppDeps) => [
  defineRoute({
    method: 'get',
    path: '/v1/login-probes',
    operationId: 'listLoginProbes',
    summary: 'Logins to login IDs that do not exist in your clinic, per source network and minute, newest first (default: the last day)',
    ...CLINIC_RECORD_READERS,
    query: loginProbeQuery,
    responses: { 200: { description: 'A page of probe records', schema: probePage } },
    problems: { 400: ['invalid_cursor'], 403: [] },
    handler: async (ctx, { query }) => {
      ctx.body = await listClinicLoginProbes(deps, clinicActor(ctx), query);
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/operator/login-probes',
    operationId: 'listUnknownClinicLoginProbes',
    summary: 'Logins to clinics that do not exist, per source network and minute, newest first (operator only)',
    tags: ['operator'],
    security: 'operator',
    operatorRoles: ['security'],
    query: loginProbeQuery,
    responses: { 200: { description: 'A page of probe records', schema: probePage } },
    handler: async (ctx, { query }) => {
      ctx.body = await listUnknownClinicLoginProbes(deps, query);
    },
  }),
];
