import { ALLOWED_TYPES } from '../../domain/files';
import { z } from 'zod';
import { createProcess, getProcess, listProcesses, updateProcess } from '../../application/processes/process-areas';
import { downloadFile, listFiles } from '../../application/processes/read-files';
import { uploadFile } from '../../application/processes/upload-file';
import { createProcessSchema, PROCESS_RIGHTS, updateProcessSchema } from '../../domain/process';
import { clinicActor, sessionActor } from '../actor';
import { defineRoute } from '../route';
import { idParams, optionalPageQuery, pathId } from '../schemas';
import type { AppDeps } from '../app';
import { attachmentDisposition } from '../content-disposition';

/** Process areas and their files over HTTP: validate, call one use case (application/processes/), respond. */
const accessEntry = z.object({ id: z.string().uuid(), right: z.enum(PROCESS_RIGHTS) }).meta({ id: 'ProcessAccessEntry' });
const processSchema = z
  .object({
    id: z.string().uuid(),
    name: z.string(),
    allowedAccountIds: z.array(z.string().uuid()),
    allowedGroupIds: z.array(z.string().uuid()),
    allowedAccounts: z.array(accessEntry),
    allowedGroups: z.array(accessEntry),
    createdBy: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Process' });
const fileSchema = z
  .object({ id: z.string().uuid(), name: z.string(), contentType: z.string(), size: z.number().int(), createdBy: z.string().nullable(), createdAt: z.string() })
  .meta({ id: 'ProcessFile' });
const fileParams = z.strictObject({ id: pathId, fileId: pathId });
const uploadQuery = z.strictObject({ name: z.string().max(1024) });

const common = { tags: ['processes'], security: 'session' as const, problems: { 403: ['process_right_required'], 404: [] } };

export const processRoutes = (deps: AppDeps) => [
  defineRoute({
    ...common,
    method: 'post',
    path: '/v1/processes',
    operationId: 'createProcess',
    summary: 'Create a process area (admins, doctors, staff); you manage it. Entries without a right get read',
    body: createProcessSchema,
    bodyExample: { name: '2027年度 健診', allowedAccounts: [{ id: '6f1c2a9e-8d3b-4c5a-9e7f-1a2b3c4d5e6f', right: 'write' }] },
    responses: { 201: { description: 'Created', schema: processSchema } },
    handler: async (ctx, { body }) => {
      ctx.status = 201;
      ctx.body = await createProcess(deps, clinicActor(ctx), body);
    },
  }),
  defineRoute({
    ...common,
    method: 'get',
    path: '/v1/processes',
    operationId: 'listProcesses',
    summary: 'Process areas you may see, oldest first: all of them, or with `limit` a page and `nextCursor` for the next (`cursor`)',
    query: optionalPageQuery(),
    responses: { 200: { description: 'Processes', schema: z.object({ items: z.array(processSchema), nextCursor: z.string().nullable() }) } },
    handler: async (ctx, { query }) => {
      ctx.body = await listProcesses(deps, clinicActor(ctx), query);
    },
  }),
  defineRoute({
    ...common,
    method: 'get',
    path: '/v1/processes/:id',
    operationId: 'getProcess',
    summary: 'One process area',
    params: idParams,
    responses: { 200: { description: 'The process', schema: processSchema } },
    handler: async (ctx, { params }) => {
      ctx.body = await getProcess(deps, clinicActor(ctx), params.id);
    },
  }),
  defineRoute({
    ...common,
    method: 'patch',
    path: '/v1/processes/:id',
    operationId: 'updateProcess',
    summary: 'Rename a process area or change its access list (the manage right, or a clinic admin)',
    description: 'A change that gives anyone more (a new account or group, a higher right) needs a password or passkey proved by you in the last 5 minutes (403 `reauthentication_required`; `POST /v1/auth/reauthenticate`); removing, lowering and renaming do not.',
    params: idParams,
    body: updateProcessSchema,
    problems: { 403: ['process_right_required', 'reauthentication_required'], 404: [] },
    responses: { 200: { description: 'The process', schema: processSchema } },
    handler: async (ctx, { params, body }) => {
      ctx.body = await updateProcess(deps, sessionActor(ctx), params.id, body);
    },
  }),
  defineRoute({
    ...common,
    method: 'post',
    path: '/v1/processes/:id/files',
    operationId: 'uploadProcessFile',
    summary: 'Upload a file (the write right; raw body with its Content-Type; ?name= the file name); streamed, encrypted, size-limited',
    params: idParams,
    query: uploadQuery,
    upload: true,
    responses: { 201: { description: 'Stored', schema: fileSchema } },
    problems: { 400: ['invalid_file_name'], 403: ['process_right_required'], 404: [], 413: [], 415: ['content_type_mismatch'] },
    handler: async (ctx, { params, query }) => {
      const upload = { processId: params.id, name: query.name, contentType: ctx.get('Content-Type'), declaredBytes: Number(ctx.get('Content-Length') || '0'), body: ctx.req };
      try {
        ctx.body = await uploadFile(deps, clinicActor(ctx), upload);
        ctx.status = 201;
      } catch (err) {
        // The rest of a refused body is not worth reading: the connection closes instead.
        ctx.set('Connection', 'close');
        throw err;
      }
    },
  }),
  defineRoute({
    ...common,
    method: 'get',
    path: '/v1/processes/:id/files',
    operationId: 'listProcessFiles',
    summary: 'Files in a process area, oldest first: all of them, or with `limit` one page at a time (`nextCursor` for the next)',
    params: idParams,
    query: optionalPageQuery(),
    responses: { 200: { description: 'Files', schema: z.object({ items: z.array(fileSchema), nextCursor: z.string().nullable() }) } },
    problems: { ...common.problems, 400: ['invalid_cursor'] },
    handler: async (ctx, { params, query }) => {
      ctx.body = await listFiles(deps, clinicActor(ctx), params.id, query);
    },
  }),
  defineRoute({
    ...common,
    method: 'get',
    path: '/v1/processes/:id/files/:fileId',
    operationId: 'downloadProcessFile',
    summary: 'Download a file (streamed, decrypted on the way out); every download is logged',
    params: fileParams,
    responses: { 200: { description: 'The file, with the media type it was uploaded as', contentType: Object.keys(ALLOWED_TYPES) } },
    // Not the request's fault: the stored copy no longer opens (damaged in storage).
    problems: { ...common.problems, 500: ['file_unreadable'] },
    handler: async (ctx, { params }) => {
      const file = await downloadFile({ ...deps, log: ctx.state.log }, clinicActor(ctx), params.id, params.fileId);
      ctx.status = 200;
      ctx.type = file.contentType;
      ctx.length = file.size;
      ctx.set('Content-Disposition', attachmentDisposition(file.name));
      // Never let a browser render a download as a page of ours.
      ctx.set('Content-Security-Policy', "default-src 'none'; sandbox");
      ctx.body = file.content;
    },
  }),
];
