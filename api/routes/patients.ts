import { CARE_TEAM } from '../../domain/roles';
import { z } from 'zod';
import { recordAudit } from '../../db/audit';
import { createPatient, getPatient, searchPatients, updatePatient } from '../../db/patients';
import { withTenant } from '../../db/tenant-scope';
import { displayText, emailAddress } from '../../domain/fields';
import { badRequest } from '../../domain/problems';
import { auditContext } from '../audit-context';
import { defineRoute } from '../route';
import { idParams } from '../schemas';
import type { AppDeps } from '../app';
import { isUuid } from '../../domain/ids';

/** Patients: personal data sealed at rest, every read in the operation log. */
const STAFF = CARE_TEAM;
const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date like 1980-04-01').refine((d) => !Number.isNaN(Date.parse(d)), 'must be a real date');
const kana = z
  .string()
  .transform((s) => s.normalize('NFKC').trim())
  .pipe(z.string().min(1).max(100).regex(/^[\p{Script=Hiragana}\p{Script=Katakana}ー・\s　]+$/u, 'must be written in kana'));
const phone = z.string().trim().regex(/^\+?[0-9-]{6,20}$/, 'must be a phone number');
const patientNumber = z.string().trim().regex(/^[A-Za-z0-9-]{1,20}$/, 'must be 1-20 letters, digits or "-"');

const createBody = z.strictObject({
  patientNumber: patientNumber.optional(),
  name: displayText(100),
  kana,
  birthDate: date,
  phone: phone.nullable().optional(),
  email: emailAddress.nullable().optional(),
  address: displayText(300).nullable().optional(),
});
const patchBody = createBody.partial().refine((v) => Object.keys(v).length > 0, 'at least one field is required');
const searchQuery = z.strictObject({
  name: z.string().min(1).max(100).optional(),
  kana: z.string().min(1).max(100).optional(),
  birthDate: date.optional(),
  patientNumber: z.string().max(20).optional(),
  cursor: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
export const patientSchema = z
  .object({
    id: z.string().uuid(),
    patientNumber: z.string(),
    name: z.string(),
    kana: z.string(),
    birthDate: z.string(),
    phone: z.string().nullable(),
    email: z.string().nullable(),
    address: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Patient' });

const common = { tags: ['patients'], security: 'session' as const, roles: [...STAFF], problems: [403, 404] };

export const patientRoutes = (deps: AppDeps) => [
  defineRoute({
    ...common,
    method: 'post',
    path: '/v1/patients',
    operationId: 'createPatient',
    summary: 'Register a patient',
    body: createBody,
    responses: { 201: { description: 'Created', schema: patientSchema } },
    problems: [403, 409],
    handler: async (ctx, { body }) => {
      ctx.status = 201;
      ctx.body = await withTenant(deps.db, ctx.state.auth!.tenantId, async (trx) => {
        const p = await createPatient(trx, deps.vault, body);
        await recordAudit(trx, auditContext(ctx), { action: 'patient.create', outcome: 'success', targetType: 'patient', targetId: p.id });
        return p;
      });
    },
  }),
  defineRoute({
    ...common,
    method: 'get',
    path: '/v1/patients',
    operationId: 'searchPatients',
    summary: 'Search patients by name (exact), kana (prefix), date of birth or patient number',
    query: searchQuery,
    responses: { 200: { description: 'Matching patients', schema: z.object({ items: z.array(patientSchema), nextCursor: z.string().nullable() }) } },
    handler: async (ctx, { query }) => {
      const afterId = query.cursor === undefined ? undefined : Buffer.from(query.cursor, 'base64url').toString('utf8');
      if (afterId !== undefined && !isUuid(afterId)) throw badRequest('invalid_cursor', 'The cursor is malformed.');
      ctx.body = await withTenant(deps.db, ctx.state.auth!.tenantId, async (trx) => {
        const page = await searchPatients(trx, deps.vault, { ...query, afterId });
        await recordAudit(trx, auditContext(ctx), {
          action: 'patient.search',
          outcome: 'success',
          targetType: 'patient',
          details: { criteria: Object.keys(query).filter((k) => !['cursor', 'limit'].includes(k)), patientIds: page.items.map((p) => p.id) },
        });
        return { items: page.items, nextCursor: page.next ? Buffer.from(page.next).toString('base64url') : null };
      });
    },
  }),
  defineRoute({
    ...common,
    method: 'get',
    path: '/v1/patients/:id',
    operationId: 'getPatient',
    summary: 'One patient (logged as a read)',
    params: idParams,
    responses: { 200: { description: 'The patient', schema: patientSchema } },
    handler: async (ctx, { params }) => {
      ctx.body = await withTenant(deps.db, ctx.state.auth!.tenantId, async (trx) => {
        const p = await getPatient(trx, deps.vault, params.id);
        await recordAudit(trx, auditContext(ctx), { action: 'patient.read', outcome: 'success', targetType: 'patient', targetId: p.id });
        return p;
      });
    },
  }),
  defineRoute({
    ...common,
    method: 'patch',
    path: '/v1/patients/:id',
    operationId: 'updatePatient',
    summary: 'Change a patient\'s details',
    params: idParams,
    body: patchBody,
    responses: { 200: { description: 'The patient', schema: patientSchema } },
    problems: [403, 404, 409],
    handler: async (ctx, { params, body }) => {
      ctx.body = await withTenant(deps.db, ctx.state.auth!.tenantId, async (trx) => {
        const p = await updatePatient(trx, deps.vault, params.id, body);
        await recordAudit(trx, auditContext(ctx), { action: 'patient.update', outcome: 'success', targetType: 'patient', targetId: p.id, details: { fields: Object.keys(body) } });
        return p;
      });
    },
  }),
];
