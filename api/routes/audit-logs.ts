import { z } from 'zod';
import { exportAuditLog } from '../../application/audit/export-audit-log';
import { listAuditLog, verifyAuditLog } from '../../application/audit/read-audit-log';
import type { AuditRecord } from '../../db/audit';
import { auditFilterSchema, auditListSchema } from '../../domain/audit-query';
import { japanDateOf } from '../../domain/japan-time';
import { clinicActor } from '../actor';
import { CLINIC_RECORD_READERS, defineRoute } from '../route';
import type { AppDeps } from '../app';
import { sendStream } from '../stream-body';
import { attachmentDisposition } from '../content-disposition';
import { chainRangeQuery, chainVerificationSchema, logEntrySchema, logEntryView } from '../log-entries';

/** The operation log (操作ログ) screen: admins and auditors read, filter, export and verify it. */

const entrySchema = logEntrySchema('AuditEntry', {
  seq: 'Position in the clinic\'s chain (a decimal string)',
  name: 'For an operator: the person at the provider, the API key\'s name, or break-glass (also in details.actorName, which the CSV export carries)',
});

const toEntry = (r: AuditRecord) => logEntryView(r, r.actor_type === 'operator' && typeof r.details.actorName === 'string' ? r.details.actorName : null);

const common = { ...CLINIC_RECORD_READERS, problems: { 400: ['invalid_range', 'range_too_large', 'invalid_cursor'], 403: [] } };

export const auditLogRoutes = (deps: AppDeps) => {
  const limits = { defaultWindowDays: deps.audit.defaultWindowDays, maxWindowDays: deps.audit.maxWindowDays };
  return [
    defineRoute({
      ...common,
      method: 'get',
      path: '/v1/audit-logs',
      operationId: 'listAuditLogs',
      summary: 'Operation log entries, newest first (default: the last 90 days)',
      query: auditListSchema,
      responses: { 200: { description: 'A page of entries', schema: z.object({ items: z.array(entrySchema), nextCursor: z.string().nullable() }) } },
      handler: async (ctx, { query }) => {
        const page = await listAuditLog(deps, clinicActor(ctx), query, limits);
        ctx.body = { items: page.items.map(toEntry), nextCursor: page.nextCursor };
      },
    }),

    defineRoute({
      ...common,
      method: 'get',
      path: '/v1/audit-logs.csv',
      operationId: 'exportAuditLogsCsv',
      summary: 'Export the operation log as CSV (UTF-8 with BOM, RFC 4180), oldest first; the export itself is logged',
      query: auditFilterSchema,
      problems: { ...common.problems, 429: ['rate_limited'] },
      responses: { 200: { description: 'CSV, streamed', contentType: 'text/csv', schema: z.string() } },
      handler: async (ctx, { query }) => {
        const csv = await exportAuditLog(deps, clinicActor(ctx), query, limits, { headOnly: ctx.method === 'HEAD' });
        ctx.status = 200;
        ctx.type = 'text/csv; charset=utf-8';
        // Named for the day in Japan, the clinic's day (before 09:00 there, the UTC date was yesterday's); the rows are in UTC.
        ctx.set('Content-Disposition', attachmentDisposition(`audit-log-${japanDateOf(new Date())}.csv`));
        sendStream(ctx, csv);
      },
    }),

    defineRoute({
      ...common,
      method: 'get',
      path: '/v1/audit-logs/verify',
      operationId: 'verifyAuditLogs',
      summary: 'Check the clinic\'s hash chain over a range of entries and report the first broken link',
      description: 'One check or CSV export of a clinic\'s log at a time (429 rate_limited with Retry-After otherwise). `fromSeq` after `toSeq` is 400 invalid_range; a range beyond the head checks what exists (`checked` says how many).',
      query: chainRangeQuery,
      problems: { ...common.problems, 429: ['rate_limited'] },
      responses: {
        200: {
          description: 'Result of the walk',
          schema: chainVerificationSchema,
        },
      },
      handler: async (ctx, { query }) => {
        ctx.body = await verifyAuditLog(deps, clinicActor(ctx), query);
      },
    }),
  ];
};
