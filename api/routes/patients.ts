import { z } from 'zod';
import { readPatient, searchPatients } from '../../application/patients/read-patients';
import { registerPatient, updatePatient } from '../../application/patients/write-patients';
import { createPatientSchema, searchPatientsSchema, updatePatientSchema } from '../../domain/patient';
import { CARE_TEAM } from '../../domain/roles';
import { clinicActor } from '../actor';
import { defineRoute } from '../route';
import { idParams } from '../schemas';
import type { AppDeps } from '../app';

/** Patients over HTTP: personal data sealed at rest, every read in the operation log (application/patients/). */
const patientSchema = z
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

const common = { tags: ['patients'], security: 'session' as const, roles: [...CARE_TEAM], problems: [403, 404] };

export const patientRoutes = (deps: AppDeps) => [
  defineRoute({
    ...common,
    method: 'post',
    path: '/v1/patients',
    operationId: 'createPatient',
    summary: 'Register a patient',
    body: createPatientSchema,
    bodyExample: { name: '山田 花子', kana: 'ヤマダ ハナコ', birthDate: '1990-04-01', phone: '03-1234-5678' },
    responses: { 201: { description: 'Created', schema: patientSchema } },
    problems: { 403: [], 409: ['patient_number_taken'] },
    handler: async (ctx, { body }) => {
      ctx.status = 201;
      ctx.body = await registerPatient(deps, clinicActor(ctx), body);
    },
  }),
  defineRoute({
    ...common,
    method: 'get',
    path: '/v1/patients',
    operationId: 'searchPatients',
    summary: 'Search patients by name (exact), kana (prefix), date of birth or patient number',
    query: searchPatientsSchema,
    responses: { 200: { description: 'Matching patients', schema: z.object({ items: z.array(patientSchema), nextCursor: z.string().nullable() }) } },
    handler: async (ctx, { query }) => {
      ctx.body = await searchPatients(deps, clinicActor(ctx), query);
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
      ctx.body = await readPatient(deps, clinicActor(ctx), params.id);
    },
  }),
  defineRoute({
    ...common,
    method: 'patch',
    path: '/v1/patients/:id',
    operationId: 'updatePatient',
    summary: 'Change a patient\'s details',
    params: idParams,
    body: updatePatientSchema,
    responses: { 200: { description: 'The patient', schema: patientSchema } },
    problems: { 403: [], 404: [], 409: ['patient_number_taken'] },
    handler: async (ctx, { params, body }) => {
      ctx.body = await updatePatient(deps, clinicActor(ctx), params.id, body);
    },
  }),
];
