import { z } from 'zod';
import { listAllClinicsSecurityEvents, listClinicSecurityEvents } from '../../application/security/security-events';
import { operatorSecurityEventQuery, SECURITY_EVENT_KINDS, securityEventQuery } from '../../domain/security-events';
import { clinicActor } from '../actor';
import { CLINIC_RECORD_READERS, defineRoute } from '../route';
import type { AppDeps } from '../app';

/** Denied attempts, aggregated: validate, call one use case (application/security/), respond. */
const eventSchema = z
  .object({
    minute: z.string().describe('UTC, the start of the minute'),
    kind: z.enum(SECURITY_EVENT_KINDS),
    clinicId: z.string().uuid().nullable().describe('The clinic the attempts were about; null when none (operator token, unknown clinic)'),
    clientNet: z.string().describe('The source: an IPv4 address or an IPv6 /64'),
    attempts: z.number().int(),
    accountIds: z.array(z.string().uuid()).describe('Signed-in accounts that tried (at most 10 per row)'),
    routes: z.array(z.string()).describe('Route templates tried, e.g. "GET /v1/patients/:id" (at most 10 per row; never the ids asked for)'),
  })
  .meta({ id: 'SecurityEvent' });
const eventPage = z.object({ items: z.array(eventSchema), nextCursor: z.string().nullable() });

export const securityEventRoutes = (deps: AppDeps) => [
  defineRoute({
    method: 'get',
    path: '/v1/security-events',
    operationId: 'listSecurityEvents',
    summary: 'Denied attempts about your clinic (404/403 to signed-in users, requests from outside the allowlist), per source network, kind and minute, newest first (default: the last day)',
    ...CLINIC_RECORD_READERS,
    query: securityEventQuery,
    responses: { 200: { description: 'A page of aggregated denied attempts', schema: eventPage } },
    handler: async (ctx, { query }) => {
      ctx.body = await listClinicSecurityEvents(deps, clinicActor(ctx), query);
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/operator/security-events',
    operationId: 'listAllSecurityEvents',
    summary: 'Denied attempts about every clinic and about none (wrong operator tokens, logins to unknown clinics), newest first (operator only)',
    tags: ['operator'],
    security: 'operator',
    operatorRoles: ['security'],
    query: operatorSecurityEventQuery,
    responses: { 200: { description: 'A page of aggregated denied attempts', schema: eventPage } },
    handler: async (ctx, { query }) => {
      ctx.body = await listAllClinicsSecurityEvents(deps, query);
    },
  }),
];
