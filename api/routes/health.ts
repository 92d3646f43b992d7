import { z } from 'zod';
import { pingDb } from '../../db/connection';
import { pingTemporal } from '../../temporal/client';
import { defineRoute } from '../route';
import { sharedProbe } from '../shared-probe';
import type { AppDeps } from '../app';

const readiness = z.object({
  status: z.enum(['ready', 'not_ready']),
  checks: z.object({ postgres: z.enum(['ok', 'failing']), temporal: z.enum(['ok', 'failing']) }),
});

/**
 * How long one readiness probe answers for (README: API basics, health): long enough that a flood
 * costs a few probes a second, short enough that a dependency's outage of a second or two shows.
 */
export const READINESS_FRESH_MS = 200;

export const healthRoutes = (deps: AppDeps) => {
  const probe = sharedProbe(async () => {
    const [postgres, temporal] = await Promise.all([pingDb(deps.db), pingTemporal(deps.temporal.connection)]);
    return { postgres, temporal };
  }, READINESS_FRESH_MS);
  return [
    defineRoute({
      method: 'get',
      path: '/healthz',
      operationId: 'getLiveness',
      summary: 'Liveness: the process is running',
      tags: ['health'],
      security: 'none',
      responses: { 200: { description: 'Alive', schema: z.object({ status: z.literal('ok') }) } },
      handler: async (ctx) => {
        ctx.body = { status: 'ok' };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/readyz',
      operationId: 'getReadiness',
      summary: 'Readiness: PostgreSQL and Temporal are reachable',
      tags: ['health'],
      security: 'none',
      responses: {
        200: { description: 'Ready to serve', schema: readiness },
        503: { description: 'A dependency is unreachable', schema: readiness },
      },
      handler: async (ctx) => {
        if (deps.isShuttingDown()) {
          ctx.status = 503;
          ctx.body = { status: 'not_ready', checks: { postgres: 'failing', temporal: 'failing' } };
          return;
        }
        const { postgres: pg, temporal } = await probe();
        const ok = pg && temporal;
        ctx.status = ok ? 200 : 503;
        ctx.body = {
          status: ok ? 'ready' : 'not_ready',
          checks: { postgres: pg ? 'ok' : 'failing', temporal: temporal ? 'ok' : 'failing' },
        };
      },
    }),
  ];
};
