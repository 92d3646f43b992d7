import { randomUUID } from 'node:crypto';
import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { recordAudit } from '../../db/audit';
import {
  canSee,
  createProcess,
  fileContentContext,
  fileNameContext,
  fileView,
  findFile,
  getProcess,
  listFiles,
  listProcesses,
  updateProcess,
  type Viewer,
} from '../../db/processes';
import { withTenant } from '../../db/tenant-scope';
import { displayText } from '../../domain/fields';
import { SNIFF_BYTES, assertAllowedType, assertContentMatches, fileTooLarge, normaliseContentType, validFileName } from '../../domain/files';
import { notFound } from '../../domain/problems';
import { auditContext } from '../audit-context';
import { defineRoute } from '../route';
import { idParams } from '../schemas';
import type { AppDeps } from '../app';
import type { ParameterizedContext } from 'koa';
import type { AppState } from '../state';

const ids = z.array(z.string().max(64)).max(500);
const createBody = z.strictObject({ name: displayText(200), allowedAccountIds: ids.default([]), allowedGroupIds: ids.default([]) });
const patchBody = z
  .strictObject({ name: displayText(200).optional(), allowedAccountIds: ids.optional(), allowedGroupIds: ids.optional() })
  .refine((v) => Object.keys(v).length > 0, 'at least one of name, allowedAccountIds, allowedGroupIds is required');
const processSchema = z
  .object({
    id: z.string().uuid(),
    name: z.string(),
    allowedAccountIds: z.array(z.string().uuid()),
    allowedGroupIds: z.array(z.string().uuid()),
    createdBy: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Process' });
const fileSchema = z
  .object({ id: z.string().uuid(), name: z.string(), contentType: z.string(), size: z.number().int(), createdBy: z.string().nullable(), createdAt: z.string() })
  .meta({ id: 'ProcessFile' });
const fileParams = z.strictObject({ id: z.string().min(1).max(64), fileId: z.string().min(1).max(64) });
const uploadQuery = z.strictObject({ name: z.string().max(1024) });

const viewerOf = (ctx: ParameterizedContext<AppState>): Viewer => ({ accountId: ctx.state.auth!.accountId, roles: ctx.state.auth!.roles });
const common = { tags: ['processes'], security: 'session' as const, problems: [403, 404] };

/** Counts bytes (refusing past the limit) and checks the declared type against the first bytes. */
function guardUpload(limit: number, contentType: string): { stream: Transform; bytes: () => number } {
  let size = 0;
  let head: Buffer | null = Buffer.alloc(0);
  const judge = (final: boolean) => {
    if (head && (head.length >= SNIFF_BYTES || final)) {
      assertContentMatches(contentType, head);
      head = null;
    }
  };
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try {
        size += chunk.length;
        if (size > limit) throw fileTooLarge(limit);
        if (head) head = Buffer.concat([head, chunk.subarray(0, SNIFF_BYTES)]);
        judge(false);
        cb(null, chunk);
      } catch (err) {
        cb(err as Error);
      }
    },
    flush(cb) {
      try {
        judge(true);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
  return { stream, bytes: () => size };
}

export const processRoutes = (deps: AppDeps) => {
  const inTenant = <T>(ctx: ParameterizedContext<AppState>, fn: Parameters<typeof withTenant<T>>[2]) => withTenant(deps.db, ctx.state.auth!.tenantId, fn);
  return [
    defineRoute({
      ...common,
      method: 'post',
      path: '/v1/processes',
      operationId: 'createProcess',
      summary: 'Create a process area; you are always among those allowed in',
      body: createBody,
      responses: { 201: { description: 'Created', schema: processSchema } },
      handler: async (ctx, { body }) => {
        ctx.status = 201;
        ctx.body = await inTenant(ctx, async (trx) => {
          const p = await createProcess(trx, deps.vault, viewerOf(ctx), body);
          await recordAudit(trx, auditContext(ctx), { action: 'process.create', outcome: 'success', targetType: 'process', targetId: p.id, details: { accounts: p.allowedAccountIds.length, groups: p.allowedGroupIds.length } });
          return p;
        });
      },
    }),
    defineRoute({
      ...common,
      method: 'get',
      path: '/v1/processes',
      operationId: 'listProcesses',
      summary: 'Process areas you may see',
      responses: { 200: { description: 'Processes', schema: z.object({ items: z.array(processSchema) }) } },
      handler: async (ctx) => {
        ctx.body = { items: await inTenant(ctx, (trx) => listProcesses(trx, deps.vault, viewerOf(ctx))) };
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
        ctx.body = await inTenant(ctx, (trx) => getProcess(trx, deps.vault, viewerOf(ctx), params.id));
      },
    }),
    defineRoute({
      ...common,
      method: 'patch',
      path: '/v1/processes/:id',
      operationId: 'updateProcess',
      summary: 'Rename a process area or change who may access it',
      params: idParams,
      body: patchBody,
      responses: { 200: { description: 'The process', schema: processSchema } },
      handler: async (ctx, { params, body }) => {
        ctx.body = await inTenant(ctx, async (trx) => {
          const p = await updateProcess(trx, deps.vault, viewerOf(ctx), params.id, body);
          await recordAudit(trx, auditContext(ctx), { action: 'process.update', outcome: 'success', targetType: 'process', targetId: p.id, details: { fields: Object.keys(body) } });
          return p;
        });
      },
    }),
    defineRoute({
      ...common,
      method: 'post',
      path: '/v1/processes/:id/files',
      operationId: 'uploadProcessFile',
      summary: 'Upload a file (raw body with its Content-Type; ?name= the file name); streamed, encrypted, size-limited',
      params: idParams,
      query: uploadQuery,
      upload: true,
      responses: { 201: { description: 'Stored', schema: fileSchema } },
      problems: [400, 403, 404, 413, 415],
      handler: async (ctx, { params, query }) => {
        const tenantId = ctx.state.auth!.tenantId;
        const limit = deps.files.maxBytes;
        const declared = Number(ctx.get('Content-Length') || '0');
        if (declared > limit) {
          ctx.set('Connection', 'close');
          throw fileTooLarge(limit);
        }
        const contentType = normaliseContentType(ctx.get('Content-Type'));
        assertAllowedType(contentType);
        const name = validFileName(query.name);
        if (!(await inTenant(ctx, (trx) => canSee(trx, viewerOf(ctx), params.id)))) throw notFound('No such process.');

        const fileId = randomUUID();
        const key = `tenants/${tenantId}/files/${fileId}`;
        const encrypted = new PassThrough();
        const guard = guardUpload(limit, contentType);
        const reading = pipeline(ctx.req, guard.stream, await deps.vault.encryptStream(tenantId, fileContentContext(fileId)), encrypted);
        const [read, stored] = await Promise.allSettled([reading, deps.storage.put(key, encrypted)]);
        if (read.status === 'rejected' || stored.status === 'rejected') {
          await deps.storage.delete(key).catch(() => undefined);
          ctx.set('Connection', 'close');
          throw read.status === 'rejected' ? read.reason : (stored as PromiseRejectedResult).reason;
        }
        ctx.status = 201;
        ctx.body = await inTenant(ctx, async (trx) => {
          const plainBytes = guard.bytes();
          await trx('process_files').insert({
            id: fileId,
            tenant_id: tenantId,
            process_id: params.id,
            name_sealed: await deps.vault.encryptText(tenantId, fileNameContext(fileId), name),
            content_type: contentType,
            size_bytes: plainBytes,
            stored_bytes: stored.value.bytes,
            storage_key: key,
            created_by: ctx.state.auth!.accountId,
          });
          await recordAudit(trx, auditContext(ctx), { action: 'file.upload', outcome: 'success', targetType: 'file', targetId: fileId, details: { processId: params.id, contentType, bytes: plainBytes } });
          return fileView(trx, deps.vault, await trx('process_files').where({ id: fileId }).first());
        });
      },
    }),
    defineRoute({
      ...common,
      method: 'get',
      path: '/v1/processes/:id/files',
      operationId: 'listProcessFiles',
      summary: 'Files in a process area',
      params: idParams,
      responses: { 200: { description: 'Files', schema: z.object({ items: z.array(fileSchema) }) } },
      handler: async (ctx, { params }) => {
        ctx.body = { items: await inTenant(ctx, (trx) => listFiles(trx, deps.vault, viewerOf(ctx), params.id)) };
      },
    }),
    defineRoute({
      ...common,
      method: 'get',
      path: '/v1/processes/:id/files/:fileId',
      operationId: 'downloadProcessFile',
      summary: 'Download a file (streamed, decrypted on the way out); every download is logged',
      params: fileParams,
      responses: { 200: { description: 'The file', contentType: 'application/octet-stream', schema: z.string() } },
      handler: async (ctx, { params }) => {
        const tenantId = ctx.state.auth!.tenantId;
        const file = await inTenant(ctx, async (trx) => {
          const row = await findFile(trx, viewerOf(ctx), params.id, params.fileId);
          await recordAudit(trx, auditContext(ctx), { action: 'file.read', outcome: 'success', targetType: 'file', targetId: row.id, details: { processId: params.id } });
          return { row, view: await fileView(trx, deps.vault, row) };
        });
        const decrypt = await deps.vault.decryptStream(tenantId, fileContentContext(file.row.id));
        const source = await deps.storage.get(file.row.storageKey);
        const out = new PassThrough();
        ctx.status = 200;
        ctx.type = file.row.contentType;
        ctx.length = file.view.size;
        ctx.attachment(file.view.name);
        // Never let a browser render a download as a page of ours.
        ctx.set('Content-Security-Policy', "default-src 'none'; sandbox");
        ctx.body = out;
        void pipeline(source, decrypt, out).catch((err) => {
          ctx.state.log.error({ err: (err as Error).message, fileId: file.row.id }, 'file download failed (tampered or missing object?)');
          out.destroy(err as Error);
        });
      },
    }),
  ];
};
