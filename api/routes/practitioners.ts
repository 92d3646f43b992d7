import { z } from 'zod';
import { assignPractitionerAccount, createPractitioner, setAvailability } from '../../application/practitioners/manage-practitioners';
import { getPractitioner, listFreeSlots, listPractitioners } from '../../application/practitioners/read-practitioners';
import { availabilitySchema } from '../../domain/availability';
import { scheduleInstant } from '../../domain/dates';
import { createPractitionerSchema } from '../../domain/practitioner';
import { CARE_TEAM } from '../../domain/roles';
import { clinicActor } from '../actor';
import { defineRoute } from '../route';
import { idParams, optionalPageQuery } from '../schemas';
import { MAX_NAME_CURSOR_LENGTH } from '../../domain/pagination';
import { uuidInput } from '../../domain/ids';
import type { AppDeps } from '../app';

/** Doctors and their availability over HTTP: validate, call one use case (application/practitioners/), respond. */
const slotsQuery = z.strictObject({ from: scheduleInstant, to: scheduleInstant });
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

const common = { tags: ['practitioners'], security: 'session' as const };

export const practitionerRoutes = (deps: AppDeps) => [
  defineRoute({
    ...common,
    method: 'put',
    path: '/v1/practitioners/:id/account',
    operationId: 'assignPractitionerAccount',
    summary: 'Link the doctor\'s schedule to the account that runs its consultations (reassignment; admins)',
    roles: ['admin'],
    params: idParams,
    body: z.strictObject({ accountId: uuidInput().nullable() }),
    responses: { 200: { description: 'The practitioner', schema: practitionerSchema } },
    problems: { 400: ['not_a_doctor'], 403: [], 404: [] },
    handler: async (ctx, { params, body }) => {
      ctx.body = await assignPractitionerAccount(deps, clinicActor(ctx), params.id, body.accountId);
    },
  }),
  defineRoute({
    ...common,
    method: 'post',
    path: '/v1/practitioners',
    operationId: 'createPractitioner',
    summary: 'Add a doctor with slot length, modes and weekly availability (Japan time)',
    roles: ['admin'],
    body: createPractitionerSchema,
    bodyExample: { displayName: '田中 一郎 医師', slotMinutes: 15, modes: ['in_person', 'online'], rules: [{ weekday: 1, startTime: '09:00', endTime: '12:30' }] },
    responses: { 201: { description: 'Created', schema: practitionerSchema } },
    problems: { 400: ['not_a_doctor'], 403: [], 404: [] },
    handler: async (ctx, { body }) => {
      ctx.status = 201;
      ctx.body = await createPractitioner(deps, clinicActor(ctx), body);
    },
  }),
  defineRoute({
    ...common,
    method: 'get',
    path: '/v1/practitioners',
    operationId: 'listPractitioners',
    summary: 'Doctors of the clinic by name: all of them, or with `limit` a page and `nextCursor` for the next (`cursor`)',
    roles: [...CARE_TEAM],
    query: optionalPageQuery(MAX_NAME_CURSOR_LENGTH),
    responses: { 200: { description: 'Practitioners', schema: z.object({ items: z.array(practitionerSchema), nextCursor: z.string().nullable() }) } },
    problems: [403],
    handler: async (ctx, { query }) => {
      ctx.body = await listPractitioners(deps, clinicActor(ctx), query);
    },
  }),
  defineRoute({
    ...common,
    method: 'get',
    path: '/v1/practitioners/:id',
    operationId: 'getPractitioner',
    summary: 'One doctor with availability',
    roles: [...CARE_TEAM],
    params: idParams,
    responses: { 200: { description: 'The practitioner', schema: practitionerSchema } },
    problems: [403, 404],
    handler: async (ctx, { params }) => {
      ctx.body = await getPractitioner(deps, clinicActor(ctx), params.id);
    },
  }),
  defineRoute({
    ...common,
    method: 'put',
    path: '/v1/practitioners/:id/availability',
    operationId: 'putAvailability',
    summary: 'Replace weekly rules and dated exceptions (closed days, extra hours)',
    roles: ['admin'],
    params: idParams,
    body: availabilitySchema,
    bodyExample: { rules: [{ weekday: 1, startTime: '09:00', endTime: '12:30' }, { weekday: 3, startTime: '14:00', endTime: '18:00' }], exceptions: [{ date: '2027-01-01', kind: 'closed' }] },
    responses: { 200: { description: 'The practitioner', schema: practitionerSchema } },
    problems: [403, 404],
    handler: async (ctx, { params, body }) => {
      ctx.body = await setAvailability(deps, clinicActor(ctx), params.id, body);
    },
  }),
  defineRoute({
    ...common,
    method: 'get',
    path: '/v1/practitioners/:id/slots',
    operationId: 'listSlots',
    summary: 'Free slots between from and to (at most 31 days), computed from availability and bookings',
    roles: [...CARE_TEAM],
    params: idParams,
    query: slotsQuery,
    responses: { 200: { description: 'Free slots (UTC)', schema: z.object({ items: z.array(z.object({ startsAt: z.string(), endsAt: z.string() })) }) } },
    problems: { 400: ['invalid_range', 'range_too_large'], 403: [], 404: [] },
    handler: async (ctx, { params, query }) => {
      ctx.body = { items: await listFreeSlots(deps, clinicActor(ctx), params.id, { from: new Date(query.from), to: new Date(query.to) }) };
    },
  }),
];
