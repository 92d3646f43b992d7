import { CARE_TEAM } from '../../domain/roles';
import { z } from 'zod';
import { recordAudit } from '../../db/audit';
import { createPractitioner, getPractitioner, listPractitioners, setAvailability, slotsOf } from '../../db/practitioners';
import { withTenant } from '../../db/tenant-scope';
import { displayText } from '../../domain/fields';
import { badRequest } from '../../domain/problems';
import { auditContext } from '../audit-context';
import { defineRoute } from '../route';
import { idParams } from '../schemas';
import type { AppDeps } from '../app';

const time = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (Japan time)');
const rule = z.strictObject({ weekday: z.number().int().min(0).max(6), startTime: time, endTime: time }).refine((r) => r.endTime > r.startTime, 'endTime must be after startTime');
const exception = z
  .strictObject({ date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/), kind: z.enum(['closed', 'open']), startTime: time.nullable().optional(), endTime: time.nullable().optional() })
  .refine((e) => (e.kind === 'closed' ? !e.startTime && !e.endTime : Boolean(e.startTime && e.endTime && e.endTime > e.startTime)), 'a closed day has no times; an open one needs startTime < endTime');
const modes = z.array(z.enum(['in_person', 'online'])).min(1).transform((m) => [...new Set(m)]);
const createBody = z.strictObject({
  displayName: displayText(100),
  accountId: z.string().uuid().optional(),
  slotMinutes: z.number().int().min(5).max(240).default(15),
  modes: modes.default(['in_person', 'online']),
  rules: z.array(rule).max(100).default([]),
});
const availabilityBody = z.strictObject({ rules: z.array(rule).max(100), exceptions: z.array(exception).max(400).default([]) });
const slotsQuery = z.strictObject({ from: z.string().datetime({ offset: true }), to: z.string().datetime({ offset: true }) });
const practitionerSchema = z
  .object({
    id: z.string().uuid(),
    displayName: z.string(),
    accountId: z.string().nullable(),
    slotMinutes: z.number().int(),
    modes: z.array(z.string()),
    rules: z.array(z.object({ weekday: z.number(), startTime: z.string(), endTime: z.string() })),
    exceptions: z.array(z.object({ date: z.string(), kind: z.string(), startTime: z.string().nullable(), endTime: z.string().nullable() })),
  })
  .meta({ id: 'Practitioner' });

const STAFF = CARE_TEAM;

export const practitionerRoutes = (deps: AppDeps) => [
  defineRoute({
    method: 'post',
    path: '/v1/practitioners',
    operationId: 'createPractitioner',
    summary: 'Add a doctor with slot length, modes and weekly availability (Japan time)',
    tags: ['practitioners'],
    security: 'session',
    roles: ['admin'],
    body: createBody,
    responses: { 201: { description: 'Created', schema: practitionerSchema } },
    problems: [403, 404],
    handler: async (ctx, { body }) => {
      ctx.status = 201;
      ctx.body = await withTenant(deps.db, ctx.state.auth!.tenantId, async (trx) => {
        const p = await createPractitioner(trx, body);
        const withRules = body.rules.length ? await setAvailability(trx, p.id, { rules: body.rules, exceptions: [] }) : p;
        await recordAudit(trx, auditContext(ctx), { action: 'practitioner.create', outcome: 'success', targetType: 'practitioner', targetId: p.id });
        return withRules;
      });
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/practitioners',
    operationId: 'listPractitioners',
    summary: 'Doctors of the clinic',
    tags: ['practitioners'],
    security: 'session',
    roles: [...STAFF],
    responses: { 200: { description: 'Practitioners', schema: z.object({ items: z.array(practitionerSchema) }) } },
    problems: [403],
    handler: async (ctx) => {
      ctx.body = { items: await withTenant(deps.db, ctx.state.auth!.tenantId, (trx) => listPractitioners(trx)) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/practitioners/:id',
    operationId: 'getPractitioner',
    summary: 'One doctor with availability',
    tags: ['practitioners'],
    security: 'session',
    roles: [...STAFF],
    params: idParams,
    responses: { 200: { description: 'The practitioner', schema: practitionerSchema } },
    problems: [403, 404],
    handler: async (ctx, { params }) => {
      ctx.body = await withTenant(deps.db, ctx.state.auth!.tenantId, (trx) => getPractitioner(trx, params.id));
    },
  }),
  defineRoute({
    method: 'put',
    path: '/v1/practitioners/:id/availability',
    operationId: 'putAvailability',
    summary: 'Replace weekly rules and dated exceptions (closed days, extra hours)',
    tags: ['practitioners'],
    security: 'session',
    roles: ['admin'],
    params: idParams,
    body: availabilityBody,
    responses: { 200: { description: 'The practitioner', schema: practitionerSchema } },
    problems: [403, 404],
    handler: async (ctx, { params, body }) => {
      ctx.body = await withTenant(deps.db, ctx.state.auth!.tenantId, async (trx) => {
        const p = await setAvailability(trx, params.id, body);
        await recordAudit(trx, auditContext(ctx), { action: 'practitioner.availability', outcome: 'success', targetType: 'practitioner', targetId: p.id });
        return p;
      });
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/practitioners/:id/slots',
    operationId: 'listSlots',
    summary: 'Free slots between from and to (at most 31 days), computed from availability and bookings',
    tags: ['practitioners'],
    security: 'session',
    roles: [...STAFF],
    params: idParams,
    query: slotsQuery,
    responses: { 200: { description: 'Free slots (UTC)', schema: z.object({ items: z.array(z.object({ startsAt: z.string(), endsAt: z.string() })) }) } },
    problems: [403, 404],
    handler: async (ctx, { params, query }) => {
      const from = new Date(query.from);
      const to = new Date(query.to);
      if (from > to) throw badRequest('invalid_range', '"from" is after "to".');
      if (to.getTime() - from.getTime() > 31 * 86_400_000) throw badRequest('range_too_large', 'Ask for at most 31 days at a time.');
      ctx.body = { items: await withTenant(deps.db, ctx.state.auth!.tenantId, (trx) => slotsOf(trx, params.id, from, to)) };
    },
  }),
];
