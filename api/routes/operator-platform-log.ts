import { z } from 'zod';
import { listPlatformLog, verifyPlatformLog } from '../../application/operators/platform-log';
import { auditListSchema } from '../../domain/audit-query';
import { defineRoute } from '../route';
import type { AppDeps } from '../app';
import { chainRangeQuery, chainVerificationSchema, logEntrySchema, logEntryView } from '../log-entries';

/**
 * The platform operation log over HTTP (security and platform admins): what operators, keys and
 * break-glass did, each entry naming the person. Before, reading it needed the database's owner.
 */
const entrySchema = logEntrySchema('PlatformLogEntry', {
  seq: 'Position in the platform chain (a decimal string)',
  name: 'The person at the provider, the API key\'s name, break-glass, or a host tool',
});

const common = { tags: ['operator'], security: 'operator' as const, operatorRoles: ['security' as const, 'platform-admin' as const] };

export const operatorPlatformLogRoutes = (deps: AppDeps) => {
  const limits = { defaultWindowDays: deps.audit.defaultWindowDays, maxWindowDays: deps.audit.maxWindowDays };
  return [
    defineRoute({
      ...common,
      method: 'get',
      path: '/v1/operator/platform-log',
      operationId: 'listPlatformLog',
      summary: 'The platform operation log, newest first (default: the last 90 days): what operators, API keys and break-glass did',
      query: auditListSchema,
      problems: { 400: ['invalid_range', 'range_too_large', 'invalid_cursor'] },
      responses: { 200: { description: 'A page of entries', schema: z.object({ items: z.array(entrySchema), nextCursor: z.string().nullable() }).meta({ id: 'PlatformLogPage' }) } },
      handler: async (ctx, { query }) => {
        const page = await listPlatformLog(deps, query, limits);
        ctx.body = { items: page.items.map((r) => logEntryView(r, r.actor_name)), nextCursor: page.nextCursor };
      },
    }),
    defineRoute({
      ...common,
      method: 'get',
      path: '/v1/operator/platform-log/verify',
      operationId: 'verifyPlatformLog',
      summary: 'Check the platform log\'s hash chain over a range of entries and report the first broken link',
      query: chainRangeQuery,
      problems: { 400: ['invalid_range'], 429: ['rate_limited'] },
      responses: {
        200: {
          description: 'Result of the walk',
          schema: chainVerificationSchema,
        },
      },
      handler: async (ctx, { query }) => {
        ctx.body = await verifyPlatformLog(deps, query);
      },
    }),
  ];
};
