import { z } from 'zod';
import { bookConsultation } from '../../application/consultations/book-consultation';
import {
  cancelConsultation,
  checkIn,
  finishConsultation,
  join,
  recordPayment,
  recordQuestionnaire,
  rescheduleConsultation,
  startConsultation,
  type ActionOptions,
  type ActionResult,
} from '../../application/consultations/consultation-actions';
import { listDay, listOutstanding, readConsultation } from '../../application/consultations/read-consultations';
import type { ConsultationRow } from '../../db/consultations';
import { CONSULTATION_STATUSES } from '../../domain/consultation';
import { scheduleDate, scheduleInstant } from '../../domain/dates';
import { CARE_TEAM } from '../../domain/roles';
import { clinicActor } from '../actor';
import { optionalIdempotencyKey, requiredIdempotencyKey } from '../idempotency-key';
import { defineRoute } from '../route';
import { idParams } from '../schemas';
import { uuidInput } from '../../domain/ids';
import type { AppDeps } from '../app';

/**
 * Consultations over HTTP: validate, call one use case (application/consultations/), respond.
 * Booking commits the row and the intent to start its workflow together; every later action is
 * an update to that workflow, which accepts or refuses it before we answer.
 */
const bookBody = z.strictObject({
  patientId: uuidInput(),
  practitionerId: uuidInput(),
  startsAt: scheduleInstant,
  mode: z.enum(['in_person', 'online']),
});
const listQuery = z.strictObject({
  date: scheduleDate,
  practitionerId: uuidInput().optional(),
  status: z.enum(CONSULTATION_STATUSES).optional(),
});
const outstandingQuery = z.strictObject({
  before: scheduleDate.optional().describe('Japan date: visits that began before it (default: today in Japan)'),
  practitionerId: uuidInput().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(512).optional(),
});
const consultationSchema = z
  .object({
    id: z.string().uuid(),
    status: z.enum(CONSULTATION_STATUSES),
    workflowId: z.string(),
    patientId: z.string().uuid(),
    practitionerId: z.string().uuid(),
    mode: z.enum(['in_person', 'online']),
    startsAt: z.string(),
    endsAt: z.string(),
    payment: z.object({ amount: z.number(), method: z.string() }).nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Consultation' });
const detailSchema = consultationSchema.extend({
  questionnaire: z.record(z.string(), z.unknown()).nullable().describe('The answers as recorded; null before the questionnaire'),
  note: z.string().nullable(),
  prescriptions: z.array(z.record(z.string(), z.unknown())).nullable().describe('As recorded at finish; null before'),
  timeline: z.array(z.object({ type: z.string(), status: z.string(), at: z.string(), details: z.record(z.string(), z.unknown()) })),
});

function view(row: ConsultationRow) {
  return {
    id: row.id,
    status: row.status,
    workflowId: row.workflowId,
    patientId: row.patientId,
    practitionerId: row.practitionerId,
    mode: row.mode,
    startsAt: row.startsAt.toISOString(),
    endsAt: row.endsAt.toISOString(),
    payment: row.paymentAmount === null ? null : { amount: row.paymentAmount, method: row.paymentMethod },
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

type Action = (deps: AppDeps, actor: ReturnType<typeof clinicActor>, id: string, input: any, opts: ActionOptions) => Promise<ActionResult>;

export const consultationRoutes = (deps: AppDeps) => {
  const action = (
    path: string,
    name: string,
    summary: string,
    run: Action,
    opts: {
      roles?: readonly (typeof CARE_TEAM)[number][];
      body?: z.ZodType;
      input?: (body: any) => unknown;
      /** Codes beyond the ones every action can answer with. */
      badRequests?: string[];
      conflicts?: string[];
    } = {},
  ) =>
    defineRoute({
      method: 'post',
      path: `/v1/consultations/:id/${path}`,
      operationId: `consultation_${name}`,
      summary,
      tags: ['consultations'],
      security: 'session',
      roles: [...(opts.roles ?? CARE_TEAM)],
      params: idParams,
      body: opts.body,
      responses: { 200: { description: 'The consultation after the action', schema: consultationSchema } },
      problems: { 400: ['idempotency_key_required', ...(opts.badRequests ?? [])], 403: ['not_assigned_practitioner'], 404: [], 409: ['invalid_transition', 'content_missing', 'idempotency_key_reused', ...(opts.conflicts ?? [])], 413: [] },
      // A client that retries after a timeout or a 5xx sends the same key: the workflow answers the
      // first result instead of refusing the repeat as invalid_transition (or acting twice).
      idempotencyKey: 'optional',
      handler: async (ctx, { params, body }) => {
        const idempotencyKey = optionalIdempotencyKey(ctx);
        const done = await run(deps, clinicActor(ctx), params.id, opts.input ? opts.input(body) : body, { idempotencyKey });
        // The state this action produced (the workflow may already have moved on, e.g. paid → completed).
        ctx.body = { ...view(done.row), status: done.result.status, startsAt: done.result.startsAt, endsAt: done.result.endsAt };
      },
    });

  return [
    defineRoute({
      method: 'post',
      path: '/v1/consultations',
      operationId: 'bookConsultation',
      summary: 'Book a slot (send an Idempotency-Key header; a repeat returns the first result)',
      tags: ['consultations'],
      security: 'session',
      roles: [...CARE_TEAM],
      body: bookBody,
      bodyExample: { patientId: '0b5e3c1a-7f2d-4e8b-9a6c-3d4e5f6a7b8c', practitionerId: '9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d', startsAt: '2027-01-12T01:30:00Z', mode: 'online' },
      responses: { 201: { description: 'Reserved; its workflow starts right after (or within a minute if Temporal is briefly unreachable)', schema: consultationSchema } },
      problems: { 400: ['idempotency_key_required', 'slot_in_past', 'beyond_booking_horizon', 'not_a_slot', 'mode_not_offered'], 403: [], 404: [], 409: ['slot_taken', 'idempotency_key_reused'] },
      idempotencyKey: true,
      handler: async (ctx, { body }) => {
        const key = requiredIdempotencyKey(ctx);
        const row = await bookConsultation(deps, clinicActor(ctx), { ...body, startsAt: new Date(body.startsAt), idempotencyKey: key });
        ctx.status = 201;
        ctx.body = view(row);
      },
    }),

    defineRoute({
      method: 'get',
      path: '/v1/consultations',
      operationId: 'listConsultations',
      summary: 'The day\'s consultations (Japan date) for the desk, by start time',
      tags: ['consultations'],
      security: 'session',
      roles: [...CARE_TEAM],
      query: listQuery,
      responses: { 200: { description: 'Consultations', schema: z.object({ items: z.array(consultationSchema) }) } },
      problems: [403],
      handler: async (ctx, { query }) => {
        ctx.body = { items: (await listDay(deps, clinicActor(ctx), query)).map(view) };
      },
    }),

    defineRoute({
      method: 'get',
      path: '/v1/consultations/outstanding',
      operationId: 'listOutstandingConsultations',
      summary: 'Visits left open: begun before a date (default today, Japan) and not completed, cancelled or a no-show; oldest first',
      tags: ['consultations'],
      security: 'session',
      roles: [...CARE_TEAM],
      query: outstandingQuery,
      responses: {
        200: {
          description: 'A page of open visits',
          schema: z.object({ items: z.array(consultationSchema), nextCursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page') }),
        },
      },
      problems: { 400: ['invalid_cursor'], 403: [] },
      handler: async (ctx, { query }) => {
        const page = await listOutstanding(deps, clinicActor(ctx), query);
        ctx.body = { items: page.items.map(view), nextCursor: page.nextCursor };
      },
    }),

    defineRoute({
      method: 'get',
      path: '/v1/consultations/:id',
      operationId: 'getConsultation',
      summary: 'One consultation with its timeline (reading the record is logged)',
      tags: ['consultations'],
      security: 'session',
      roles: [...CARE_TEAM],
      params: idParams,
      responses: { 200: { description: 'The consultation', schema: detailSchema } },
      problems: [403, 404],
      handler: async (ctx, { params }) => {
        const record = await readConsultation(deps, clinicActor(ctx), params.id);
        ctx.body = {
          ...view(record.row),
          questionnaire: record.questionnaire,
          note: record.note,
          prescriptions: record.prescriptions,
          timeline: record.timeline.map((e) => ({ type: e.type, status: e.status, at: e.occurredAt.toISOString(), details: e.details })),
        };
      },
    }),

    action('questionnaire', 'questionnaire', 'Record the pre-visit questionnaire answers', recordQuestionnaire, {
      body: z.strictObject({ answers: z.record(z.string().max(100), z.unknown()) }),
      input: (body) => body.answers,
    }),
    action('check-in', 'checkIn', 'The patient arrived at the desk (in-person). Open from 00:00 in Japan on the visit\'s day (or from when its video room would open, if earlier): before that 409 before_visit_day', checkIn, {
      conflicts: ['before_visit_day'],
    }),
    defineRoute({
      method: 'post',
      path: '/v1/consultations/:id/join',
      operationId: 'consultation_join',
      summary: 'Join the online consultation: a room URL and a short-lived token, only inside the join window. The consultation\'s own doctor gets the practitioner\'s side; anyone else of the care team the patient\'s (to hand to the patient).',
      tags: ['consultations'],
      security: 'session',
      roles: [...CARE_TEAM],
      params: idParams,
      body: z.strictObject({ role: z.enum(['patient', 'practitioner']).optional().describe('Optional: the side the caller expects; refused (403) if it is not theirs') }).optional(),
      responses: { 200: { description: 'The room and the join token', schema: z.record(z.string(), z.unknown()) } },
      problems: { 403: ['not_assigned_practitioner'], 404: [], 409: ['invalid_transition', 'outside_join_window'] },
      handler: async (ctx, { params, body }) => {
        const { result, role } = await join(deps, clinicActor(ctx), params.id, body?.role);
        const ticket = await deps.video.joinTicket({ consultationId: params.id, role, notBefore: new Date(result.joinWindow!.notBefore), expiresAt: new Date(result.joinWindow!.expiresAt) });
        ctx.body = { status: result.status, ...ticket };
      },
    }),
    action('start', 'start', 'The consultation\'s own doctor starts it', startConsultation, { roles: ['doctor'] }),
    action('finish', 'finish', 'The consultation\'s own doctor finishes it, with the clinical note and prescriptions', finishConsultation, {
      roles: ['doctor'],
      body: z.strictObject({ note: z.string().max(20_000), prescriptions: z.array(z.record(z.string(), z.unknown())).max(50).default([]) }),
    }),
    action('payment', 'payment', 'Record the payment; the visit is then completed', recordPayment, {
      body: z.strictObject({ amount: z.number().int().min(0).max(10_000_000), method: z.enum(['cash', 'card', 'qr', 'invoice']) }),
    }),
    action('cancel', 'cancel', 'Cancel (the slot is released)', cancelConsultation, {
      body: z.strictObject({ reason: z.string().trim().min(1).max(500) }),
      input: (body) => body.reason,
    }),
    action('reschedule', 'reschedule', 'Move to another free slot of the same doctor; reminders move with it', rescheduleConsultation, {
      body: z.strictObject({ startsAt: scheduleInstant }),
      input: (body) => ({ startsAt: new Date(body.startsAt), now: new Date() }),
      badRequests: ['slot_in_past', 'beyond_booking_horizon', 'not_a_slot'],
      conflicts: ['slot_taken'],
    }),
  ];
};
