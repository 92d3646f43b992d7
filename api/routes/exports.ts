import { z } from 'zod';
import { downloadDataExport } from '../../application/exports/download-export';
import { getDataExport, listDataExports, startDataExport } from '../../application/exports/data-exports';
import { clinicActor } from '../actor';
import { defineRoute } from '../route';
import { idParams } from '../schemas';
import type { AppDeps } from '../app';
import { attachmentDisposition } from '../content-disposition';

/** The clinic's full data export (README: Data export): its admins only. */
const utc = z.string().datetime();
const progressSchema = z
  .object({
    phase: z.enum(['planning', 'tables', 'archive', 'ready', 'failed', 'expired']).describe('`tables`: tables into parts; `archive`: record pages, files and the ZIP'),
    tablesDone: z.number().int(),
    tablesTotal: z.number().int(),
    rows: z.number().int().describe('Table rows written so far'),
    bytes: z.number().int().describe('Bytes written so far; once ready, the archive\'s size'),
    patientsDone: z.number().int(),
    patientsTotal: z.number().int(),
    filesTotal: z.number().int(),
  })
  .meta({ id: 'DataExportProgress' });
const exportSchema = z
  .object({
    id: z.string().uuid(),
    state: z.enum(['running', 'ready', 'failed', 'expired']).describe('`ready` until `expiresAt`; then the archive is deleted (`expired`)'),
    requestedBy: z.string().uuid().nullable(),
    createdAt: utc,
    readyAt: utc.nullable(),
    expiresAt: utc.nullable(),
    expiredAt: utc.nullable(),
    failedAt: utc.nullable(),
    sizeBytes: z.number().int().nullable().describe('The ZIP archive\'s size (as downloaded)'),
    sha256: z.string().nullable().describe('SHA-256 (hex) of the ZIP archive as downloaded'),
    progress: progressSchema.nullable().describe('Live from the export\'s workflow while it runs; totals afterwards'),
  })
  .meta({ id: 'DataExport' });
const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(512).optional(),
});

const admin = { tags: ['exports'], security: 'session' as const, roles: ['admin' as const] };

export const exportRoutes = (deps: AppDeps) => [
  defineRoute({
    ...admin,
    method: 'post',
    path: '/v1/exports',
    operationId: 'startDataExport',
    summary: 'Export all of the clinic\'s data (a workflow): tables as CSV and JSON Lines, one record page per patient, process files, README, manifest',
    // Clinics must be able to take their data with them during the read-only time after their contract ended.
    openAfterContractEnd: true,
    responses: { 202: { description: 'Started', schema: z.object({ id: z.string().uuid() }).meta({ id: 'DataExportStarted' }) } },
    problems: { 403: [], 409: ['export_running'] },
    handler: async (ctx) => {
      ctx.status = 202;
      ctx.body = await startDataExport(deps, clinicActor(ctx));
    },
  }),
  defineRoute({
    ...admin,
    method: 'get',
    path: '/v1/exports',
    operationId: 'listDataExports',
    summary: 'The clinic\'s exports, newest first',
    query: listQuery,
    responses: { 200: { description: 'Exports', schema: z.object({ items: z.array(exportSchema), nextCursor: z.string().nullable() }).meta({ id: 'DataExportList' }) } },
    problems: { 400: ['invalid_cursor'], 403: [] },
    handler: async (ctx, { query }) => {
      ctx.body = await listDataExports(deps, clinicActor(ctx), query);
    },
  }),
  defineRoute({
    ...admin,
    method: 'get',
    path: '/v1/exports/:id',
    operationId: 'getDataExport',
    summary: 'One export: its state and progress (tables done, rows, bytes)',
    params: idParams,
    responses: { 200: { description: 'The export', schema: exportSchema } },
    problems: { 403: [], 404: [] },
    handler: async (ctx, { params }) => {
      ctx.body = await getDataExport(deps, clinicActor(ctx), params.id);
    },
  }),
  defineRoute({
    ...admin,
    method: 'get',
    path: '/v1/exports/:id/download',
    operationId: 'downloadDataExport',
    summary: 'Download a ready export as one ZIP file (streamed, decrypted on the way out); every download is logged',
    params: idParams,
    responses: { 200: { description: 'The ZIP archive', contentType: 'application/zip' } },
    problems: { 403: [], 404: [], 409: ['export_not_ready', 'export_failed'], 410: ['export_expired'] },
    handler: async (ctx, { params }) => {
      const archive = await downloadDataExport({ ...deps, log: ctx.state.log }, clinicActor(ctx), params.id, { headOnly: ctx.method === 'HEAD' });
      ctx.status = 200;
      ctx.type = 'application/zip';
      ctx.length = archive.sizeBytes;
      ctx.set('Content-Disposition', attachmentDisposition(archive.fileName));
      ctx.set('Content-Security-Policy', "default-src 'none'; sandbox");
      if (archive.content) ctx.body = archive.content;
    },
  }),
];
