import Router from '@koa/router';
import Koa from 'koa';
import { z } from 'zod';
import type { Db } from '../db/connection';
import type { Logger } from '../lib/logger';
import type { TemporalClient } from '../temporal/client';
import { accessLog } from './middleware/access-log';
import { jsonBody } from './middleware/json-body';
import { operatorAuth } from './middleware/operator-auth';
import { problemHandler } from './middleware/problem-handler';
import { requestId } from './middleware/request-id';
import { securityHeaders } from './middleware/security-headers';
import { buildOpenApi } from './openapi';
import { defineRoute, mountRoutes, type AnyRoute } from './route';
import { healthRoutes } from './routes/health';
import { operatorTenantRoutes } from './routes/operator-tenants';
import type { AppState } from './state';

export interface AppDeps {
  db: Db;
  temporal: TemporalClient;
  log: Logger;
  operatorToken: string;
  taskQueue: string;
  bodyLimitBytes: number;
  tls: boolean;
  isShuttingDown: () => boolean;
}

export function appRoutes(deps: AppDeps): AnyRoute[] {
  const routes = [...healthRoutes(deps), ...operatorTenantRoutes(deps)];
  let doc: unknown;
  const openapi = defineRoute({
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenApi',
    summary: 'This OpenAPI 3.1 document',
    tags: ['meta'],
    security: 'none',
    responses: { 200: { description: 'OpenAPI document', schema: z.object({ openapi: z.string() }).passthrough() } },
    handler: async (ctx) => {
      ctx.body = doc;
    },
  });
  routes.push(openapi);
  doc = buildOpenApi(routes, { version: process.env.npm_package_version ?? '0.1.0' });
  return routes;
}

export function createApp(deps: AppDeps): { app: Koa<AppState>; router: Router<AppState>; routes: AnyRoute[] } {
  const app = new Koa<AppState>();
  const router = new Router<AppState>();
  const routes = appRoutes(deps);
  mountRoutes(router, routes, { none: async (_ctx, next) => next(), operator: operatorAuth(deps.operatorToken) });

  app.use(requestId(deps.log));
  app.use(accessLog());
  for (const m of securityHeaders({ tls: deps.tls })) app.use(m);
  app.use(problemHandler());
  app.use(jsonBody(deps.bodyLimitBytes));
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: true }));
  return { app, router, routes };
}
