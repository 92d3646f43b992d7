import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { listAuditEvents, recordAudit, streamAuditEvents, verifyAuditChain, type AuditRecord } from '../../db/audit';
import { withTenant } from '../../db/tenant-scope';
import { auditFilterSchema, auditListSchema, csvCell, decodeAuditCursor, encodeAuditCursor, resolveAuditFilter } from '../../domain/audit-query';
import { auditContext } from '../audit-context';
import { defineRoute } from '../route';
import type { AppDeps } from '../app';

/** The operation log (操作ログ) screen: admins and auditors read, filter, export and verify it. */

const entrySchema = z
  .object({
    seq: z.string().describe('Position in the clinic\'s chain (a decimal string)'),
    occurredAt: z.string().describe('UTC, microseconds, from the database clock'),
    actor: z.object({ type: z.enum(['account', 'operator', 'system', 'anonymous']), id: z.string().nullable(), roles: z.array(z.string()) }),
    action: z.string(),
    target: z.object({ type: z.string().nullable(), id: z.string().nullable() }),
    outcome: z.enum(['success', 'denied', 'failed']),
    clientIp: z.string().nullable(),
    userAgent: z.string().nullable(),
    requestId: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
    hash: z.string().describe('SHA-256 of the previous entry\'s hash and this entry, hex'),
  })
  .meta({ id: 'AuditEntry' });

const toEntry = (r: AuditRecord) => ({
  seq: r.seq,
  occurredAt: r.occurred_at,
  actor: { type: r.actor_type, id: r.actor_id, roles: r.actor_roles },
  action: r.action,
  target: { type: r.target_type, id: r.target_id },
  outcome: r.outcome,
  clientIp: r.client_ip,
  userAgent: r.user_agent,
  requestId: r.request_id,
  details: r.details,
  hash: r.hash,
});

const CSV_COLUMNS: Array<keyof AuditRecord> = [
  'seq', 'occurred_at', 'actor_type', 'actor_id', 'actor_roles', 'action', 'target_type', 'target_id',
  'outcome', 'client_ip', 'user_agent', 'request_id', 'details', 'hash',
];
const csvLine = (cells: unknown[]) => `${cells.map(csvCell).join(',')}\r\n`;
// Streamed rows pass through knex's snake_case → camelCase mapping; the CSV header keeps snake_case.
const camel = (s: string) => s.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
const CSV_KEYS = CSV_COLUMNS.map((c) => camel(c));

const verifyQuery = z.strictObject({
  fromSeq: z.coerce.number().int().min(1).optional(),
  toSeq: z.coerce.number().int().min(1).optional(),
});

const common = { tags: ['audit'], security: 'session' as const, roles: ['admin' as const, 'auditor' as const], problems: [403] };

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
        const filter = resolveAuditFilter(query, limits);
        const beforeSeq = decodeAuditCursor(query.cursor);
        const page = await withTenant(deps.db, ctx.state.auth!.tenantId, (trx) => listAuditEvents(trx, filter, { limit: query.limit, beforeSeq }));
        ctx.body = { items: page.rows.map(toEntry), nextCursor: page.nextBeforeSeq ? encodeAuditCursor(page.nextBeforeSeq) : null };
      },
    }),

    defineRoute({
      ...common,
      method: 'get',
      path: '/v1/audit-logs.csv',
      operationId: 'exportAuditLogsCsv',
      summary: 'Export the operation log as CSV (UTF-8 with BOM, RFC 4180), oldest first; the export itself is logged',
      query: auditFilterSchema,
      responses: { 200: { description: 'CSV, streamed', contentType: 'text/csv', schema: z.string() } },
      handler: async (ctx, { query }) => {
        const filter = resolveAuditFilter(query, limits);
        const tenantId = ctx.state.auth!.tenantId;
        await withTenant(deps.db, tenantId, (trx) =>
          recordAudit(trx, auditContext(ctx), { action: 'audit_log.export', outcome: 'success', details: { filter: query } }),
        );
        const out = new PassThrough();
        ctx.status = 200;
        ctx.type = 'text/csv; charset=utf-8';
        ctx.attachment(`audit-log-${new Date().toISOString().slice(0, 10)}.csv`);
        ctx.body = out;
        out.write(`\uFEFF${csvLine(CSV_COLUMNS)}`);
        const toCsv = new Transform({
          writableObjectMode: true,
          transform(row: Record<string, unknown>, _enc, done) {
            done(null, csvLine(CSV_KEYS.map((k) => row[k])));
          },
        });
        // Not awaited: Koa must start sending while rows are still being read. The transaction
        // stays open until the last row is out; a client that disconnects ends it.
        void withTenant(deps.db, tenantId, (trx) => pipeline(streamAuditEvents(trx, filter), toCsv, out)).catch((err) => {
          ctx.state.log.warn({ err: (err as Error).message }, 'audit log export ended early');
          out.destroy();
        });
      },
    }),

    defineRoute({
      ...common,
      method: 'get',
      path: '/v1/audit-logs/verify',
      operationId: 'verifyAuditLogs',
      summary: 'Check the clinic\'s hash chain over a range of entries and report the first broken link',
      query: verifyQuery,
      responses: {
        200: {
          description: 'Result of the walk',
          schema: z.object({
            ok: z.boolean(),
            checked: z.number().int(),
            fromSeq: z.number().int().nullable(),
            toSeq: z.number().int().nullable(),
            headSeq: z.number().int().nullable(),
            firstBroken: z.object({ seq: z.number().int(), reason: z.string() }).nullable(),
          }),
        },
      },
      handler: async (ctx, { query }) => {
        ctx.body = await withTenant(deps.db, ctx.state.auth!.tenantId, (trx) => verifyAuditChain(trx, query));
      },
    }),
  ];
};
