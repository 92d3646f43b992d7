import type { Middleware } from 'koa';
import type { Tracing } from '../../lib/tracing';
import type { AppState } from '../state';

// SpanKind.SERVER and SpanStatusCode.ERROR, as numbers: @opentelemetry/api is loaded only when tracing is on.
const SERVER = 1;
const ERROR = 2;

/**
 * One server span per request, active while the request runs, so a workflow the request starts
 * (through the outbox's Temporal client) joins its trace. Named and tagged like the request
 * metrics: the route template the router matched (`/v1/patients/:id`), never the raw path.
 */
export function requestTracing(tracing: Tracing, listener: string): Middleware<AppState> {
  return (ctx, next) =>
    tracing.tracer.startActiveSpan(`${ctx.method} request`, { kind: SERVER }, async (span) => {
      try {
        await next();
      } finally {
        const route = String((ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? 'unmatched');
        span.updateName(`${ctx.method} ${route}`);
        span.setAttributes({ 'http.request.method': ctx.method, 'http.route': route, 'http.response.status_code': ctx.status, 'forclinic.listener': listener });
        if (ctx.status >= 500) span.setStatus({ code: ERROR });
        span.end();
      }
    });
}
