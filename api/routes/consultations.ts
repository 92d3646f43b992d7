import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { ParameterizedContext } from 'koa';
import { z } from 'zod';
import { consultationFieldContext } from '../../activities/consultations';
import { recordAudit } from '../../db/audit';
import { getPatient } from '../../db/patients';
import { assertOffered, getPractitioner } from '../../db/practitioners';
import { withTenant } from '../../db/tenant-scope';
import { CONSULTATION_STATUSES } from '../../domain/consultation';
import { Problem, badRequest, conflict, notFound, serviceUnavailable } from '../../domain/problems';
import { CONSULTATION_MODE, CONSULTATION_STATUS, PRACTITIONER_ID, SCHEDULED_START, TENANT_ID } from '../../temporal/search-attributes';
import { consultationWorkflowId } from '../../temporal/workflow-ids';
import type { consultationWorkflow, UpdateResult } from '../../workflows/consultation';
import { auditContext } from '../audit-context';
import { defineRoute } from '../route';
import { idParams } from '../schemas';
import type { AppDeps } from '../app';
import type { AppState } from '../state';
import { isUuid } from '../../domain/ids';
import { isUniqueViolation } from '../../db/errors';

/**
 * Consultations. Booking writes the row and starts its workflow in one transaction (the slot
 * is the database's to give: a unique index answers races with 409 slot_taken). Every action
 * after that is a Temporal update: the workflow accepts or refuses it (409 invalid_transition)
 * before we answer.
 */
const STAFF = ['admin', 'doctor', 'staff'] as const;

const bookBody = z.strictObject({
  patientId: z.string().uuid(),
  practitionerId: z.string().uuid(),
  startsAt: z.string().datetime({ offset: true }),
  mode: z.enum(['in_person', 'online']),
});
const listQuery = z.strictObject({
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date like 2026-12-01 (Japan)'),
  practitionerId: z.string().uuid().optional(),
  status: z.enum(CONSULTATION_STATUSES).optional(),
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
  questionnaire: z.unknown().nullable(),
  note: z.string().nullable(),
  prescriptions: z.unknown().nullable(),
  timeline: z.array(z.object({ type: z.string(), status: z.string(), at: z.string(), details: z.record(z.string(), z.unknown()) })),
});

function view(row: Record<string, any>) {
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

/** Maps a refused update (or a finished workflow) to the front end's codes. */
function updateProblem(err: unknown): Problem {
  let cause: unknown = err;
  for (let i = 0; i < 5 && cause; i += 1) {
    const type = (cause as { type?: string }).type;
    const message = (cause as { message?: string }).message ?? '';
    if (type === 'InvalidTransition') return conflict('invalid_transition', message);
    if (type === 'SlotTaken') return conflict('slot_taken', 'That slot is already booked.');
    if (type === 'OutsideJoinWindow') return conflict('outside_join_window', `The video room is not open now: ${message}.`);
    cause = (cause as { cause?: unknown }).cause;
  }
  const name = (err as { name?: string }).name ?? '';
  if (name === 'WorkflowNotFoundError' || /completed|not found/i.test((err as Error).message ?? '')) {
    return conflict('invalid_transition', 'This consultation has ended.');
  }
  if (err instanceof WorkflowUpdateFailedError) return conflict('invalid_transition', (err as Error).message);
  return serviceUnavailable('The workflow service is unavailable. Retry shortly.');
}

export const consultationRoutes = (deps: AppDeps) => {
  const tenantOf = (ctx: ParameterizedContext<AppState>) => ctx.state.auth!.tenantId;

  async function load(ctx: ParameterizedContext<AppState>, id: string) {
    if (!isUuid(id)) throw notFound('No such consultation.');
    const row = await withTenant(deps.db, tenantOf(ctx), (trx) => trx('consultations').where({ id }).first());
    if (!row) throw notFound('No such consultation.');
    return row as Record<string, any>;
  }

  async function update(ctx: ParameterizedContext<AppState>, id: string, name: string, args: unknown[], action: string): Promise<UpdateResult> {
    const row = await load(ctx, id);
    try {
      const handle = deps.temporal.client.workflow.getHandle(row.workflowId);
      const result = (await handle.executeUpdate(name, { args: args as [unknown] })) as UpdateResult;
      await withTenant(deps.db, tenantOf(ctx), (trx) => recordAudit(trx, auditContext(ctx), { action: `consultation.${action}`, outcome: 'success', targetType: 'consultation', targetId: id }));
      return result;
    } catch (err) {
      const problem = updateProblem(err);
      await withTenant(deps.db, tenantOf(ctx), (trx) =>
        recordAudit(trx, auditContext(ctx), { action: `consultation.${action}`, outcome: 'denied', targetType: 'consultation', targetId: id, details: { code: problem.code } }),
      );
      throw problem;
    }
  }

  const seal = (ctx: ParameterizedContext<AppState>, id: string, field: 'questionnaire' | 'note' | 'prescriptions' | 'cancelReason', value: unknown) =>
    deps.vault.encryptText(tenantOf(ctx), consultationFieldContext(id, field), typeof value === 'string' ? value : JSON.stringify(value)).then((b) => b.toString('base64'));

  const action = (
    path: string,
    name: string,
    summary: string,
    opts: { roles?: readonly ('admin' | 'doctor' | 'staff')[]; body?: z.ZodType; args?: (ctx: ParameterizedContext<AppState>, id: string, body: any) => Promise<unknown[]>; respond?: (ctx: ParameterizedContext<AppState>, id: string, r: UpdateResult, body: any) => Promise<unknown> } = {},
  ) =>
    defineRoute({
      method: 'post',
      path: `/v1/consultations/:id/${path}`,
      operationId: `consultation_${name}`,
      summary,
      tags: ['consultations'],
      security: 'session',
      roles: [...(opts.roles ?? STAFF)],
      params: idParams,
      body: opts.body,
      responses: { 200: { description: 'The consultation after the action', schema: opts.respond ? z.record(z.string(), z.unknown()) : consultationSchema } },
      problems: [403, 404, 409],
      handler: async (ctx, { params, body }) => {
        const args = opts.args ? await opts.args(ctx, params.id, body) : [];
        const result = await update(ctx, params.id, name, args, path);
        // The state this action produced (the workflow may already have moved on, e.g. paid → completed).
        ctx.body = opts.respond
          ? await opts.respond(ctx, params.id, result, body)
          : { ...view(await load(ctx, params.id)), status: result.status, startsAt: result.startsAt, endsAt: result.endsAt };
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
      roles: [...STAFF],
      body: bookBody,
      responses: { 201: { description: 'Reserved; its workflow is running', schema: consultationSchema } },
      problems: [400, 403, 404, 409],
      handler: async (ctx, { body }) => {
        const key = ctx.get('Idempotency-Key');
        if (!/^[A-Za-z0-9._:-]{8,128}$/.test(key)) throw badRequest('idempotency_key_required', 'Send an Idempotency-Key header (8-128 characters of A-Z a-z 0-9 . _ : -).');
        const tenantId = tenantOf(ctx);
        const startsAt = new Date(body.startsAt);
        const existing = await withTenant(deps.db, tenantId, (trx) => trx('consultations').where({ tenant_id: tenantId, idempotency_key: key }).first());
        if (existing) {
          ctx.status = 201;
          ctx.body = view(existing);
          return;
        }
        try {
          const row = await withTenant(deps.db, tenantId, async (trx) => {
            await getPatient(trx, deps.vault, body.patientId);
            const practitioner = await getPractitioner(trx, body.practitionerId);
            assertOffered(practitioner, startsAt, body.mode);
            const id = randomUUID();
            const endsAt = new Date(startsAt.getTime() + practitioner.slotMinutes * 60_000);
            // The slot running now can still be booked (a walk-in); a finished one cannot.
            if (endsAt.getTime() <= Date.now()) throw badRequest('slot_in_past', 'That slot is over.');
            const workflowId = consultationWorkflowId(id);
            await trx('consultations').insert({
              id, tenant_id: tenantId, patient_id: body.patientId, practitioner_id: body.practitionerId, starts_at: startsAt, ends_at: endsAt,
              mode: body.mode, status: 'reserved', workflow_id: workflowId, idempotency_key: key, created_by: ctx.state.auth!.accountId,
            });
            await recordAudit(trx, auditContext(ctx), { action: 'consultation.book', outcome: 'success', targetType: 'consultation', targetId: id, details: { practitionerId: body.practitionerId, startsAt: startsAt.toISOString(), mode: body.mode } });
            try {
              await deps.temporal.client.workflow.start<typeof consultationWorkflow>('consultationWorkflow', {
                workflowId,
                taskQueue: deps.taskQueue,
                args: [{ tenantId, consultationId: id, mode: body.mode, startsAt: startsAt.toISOString(), endsAt: endsAt.toISOString(), timing: deps.consultations }],
                typedSearchAttributes: [
                  { key: TENANT_ID, value: tenantId },
                  { key: CONSULTATION_STATUS, value: 'reserved' },
                  { key: PRACTITIONER_ID, value: body.practitionerId },
                  { key: SCHEDULED_START, value: startsAt },
                  { key: CONSULTATION_MODE, value: body.mode },
                ],
              });
            } catch (err) {
              ctx.state.log.error({ err }, 'could not start the consultation workflow');
              throw serviceUnavailable('The workflow service is unavailable; nothing was booked. Retry shortly.');
            }
            return trx('consultations').where({ id }).first();
          });
          ctx.status = 201;
          ctx.body = view(row);
        } catch (err) {
          if (isUniqueViolation(err, 'consultations_idempotency_key')) {
            // The same request raced itself: answer with the winner's result.
            const first = await withTenant(deps.db, tenantId, (trx) => trx('consultations').where({ tenant_id: tenantId, idempotency_key: key }).first());
            ctx.status = 201;
            ctx.body = view(first);
            return;
          }
          if (isUniqueViolation(err)) throw conflict('slot_taken', 'That slot is already booked.');
          throw err;
        }
      },
    }),

    defineRoute({
      method: 'get',
      path: '/v1/consultations',
      operationId: 'listConsultations',
      summary: 'The day\'s consultations (Japan date) for the desk, by start time',
      tags: ['consultations'],
      security: 'session',
      roles: [...STAFF],
      query: listQuery,
      responses: { 200: { description: 'Consultations', schema: z.object({ items: z.array(consultationSchema) }) } },
      problems: [403],
      handler: async (ctx, { query }) => {
        const dayStart = new Date(`${query.date}T00:00:00+09:00`);
        if (Number.isNaN(dayStart.getTime())) throw badRequest('validation_failed', 'date is not a real date');
        const dayEnd = new Date(dayStart.getTime() + 86_400_000);
        const rows = await withTenant(deps.db, tenantOf(ctx), (trx) => {
          const q = trx('consultations').where('starts_at', '>=', dayStart).where('starts_at', '<', dayEnd).orderBy([{ column: 'starts_at' }, { column: 'id' }]);
          if (query.practitionerId) q.where({ practitioner_id: query.practitionerId });
          if (query.status) q.where({ status: query.status });
          return q;
        });
        ctx.body = { items: rows.map(view) };
      },
    }),

    defineRoute({
      method: 'get',
      path: '/v1/consultations/:id',
      operationId: 'getConsultation',
      summary: 'One consultation with its timeline (reading the record is logged)',
      tags: ['consultations'],
      security: 'session',
      roles: [...STAFF],
      params: idParams,
      responses: { 200: { description: 'The consultation', schema: detailSchema } },
      problems: [403, 404],
      handler: async (ctx, { params }) => {
        const row = await load(ctx, params.id);
        const tenantId = tenantOf(ctx);
        const open = async (field: 'questionnaire' | 'note' | 'prescriptions', sealed: Buffer | null, json: boolean) => {
          if (!sealed) return null;
          const text = await deps.vault.decryptText(tenantId, consultationFieldContext(row.id, field), sealed);
          return json ? JSON.parse(text) : text;
        };
        ctx.body = await withTenant(deps.db, tenantId, async (trx) => {
          const events = await trx('consultation_events').where({ consultation_id: row.id }).orderBy('id');
          await recordAudit(trx, auditContext(ctx), { action: 'consultation.read', outcome: 'success', targetType: 'consultation', targetId: row.id });
          return {
            ...view(row),
            questionnaire: await open('questionnaire', row.questionnaireSealed, true),
            note: await open('note', row.noteSealed, false),
            prescriptions: await open('prescriptions', row.prescriptionsSealed, true),
            timeline: events.map((e: { type: string; status: string; occurredAt: Date; details: Record<string, unknown> }) => ({ type: e.type, status: e.status, at: e.occurredAt.toISOString(), details: e.details })),
          };
        });
      },
    }),

    action('questionnaire', 'questionnaire', 'Record the pre-visit questionnaire answers', {
      body: z.strictObject({ answers: z.record(z.string().max(100), z.unknown()) }),
      args: async (ctx, id, body) => [{ answersSealed: await seal(ctx, id, 'questionnaire', body.answers) }],
    }),
    action('check-in', 'checkIn', 'The patient arrived at the desk (in-person)'),
    action('join', 'join', 'Join the online consultation: a room URL and a short-lived token, only inside the join window', {
      body: z.strictObject({ role: z.enum(['patient', 'practitioner']).default('patient') }),
      respond: async (_ctx, id, r, body) => {
        const ticket = await deps.video.joinTicket({ consultationId: id, role: body.role, notBefore: new Date(r.joinWindow!.notBefore), expiresAt: new Date(r.joinWindow!.expiresAt) });
        return { status: r.status, ...ticket };
      },
    }),
    action('start', 'start', 'The doctor starts the consultation', { roles: ['doctor'] }),
    action('finish', 'finish', 'The doctor finishes, with the clinical note and prescriptions', {
      roles: ['doctor'],
      body: z.strictObject({ note: z.string().max(20_000), prescriptions: z.array(z.record(z.string(), z.unknown())).max(50).default([]) }),
      args: async (ctx, id, body) => [{ noteSealed: await seal(ctx, id, 'note', body.note), prescriptionsSealed: await seal(ctx, id, 'prescriptions', body.prescriptions) }],
    }),
    action('payment', 'payment', 'Record the payment; the visit is then completed', {
      body: z.strictObject({ amount: z.number().int().min(0).max(10_000_000), method: z.enum(['cash', 'card', 'qr', 'invoice']) }),
      args: async (_ctx, _id, body) => [body],
    }),
    action('cancel', 'cancel', 'Cancel (the slot is released)', {
      body: z.strictObject({ reason: z.string().trim().min(1).max(500) }),
      args: async (ctx, id, body) => [{ reasonSealed: await seal(ctx, id, 'cancelReason', body.reason) }],
    }),
    action('reschedule', 'reschedule', 'Move to another free slot of the same doctor; reminders move with it', {
      body: z.strictObject({ startsAt: z.string().datetime({ offset: true }) }),
      args: async (ctx, id, body) => {
        const row = await load(ctx, id);
        const startsAt = new Date(body.startsAt);
        if (startsAt.getTime() < Date.now()) throw badRequest('slot_in_past', 'That slot has already begun.');
        const practitioner = await withTenant(deps.db, tenantOf(ctx), (trx) => getPractitioner(trx, row.practitionerId));
        assertOffered(practitioner, startsAt, row.mode);
        return [{ startsAt: startsAt.toISOString(), endsAt: new Date(startsAt.getTime() + practitioner.slotMinutes * 60_000).toISOString() }];
      },
    }),
  ];
};
