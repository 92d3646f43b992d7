import type { Middleware } from 'koa';
import type { AppState } from '../state';

export interface RequestMetrics {
  observe(listener: string, route: string, method: string, status: number, seconds: number): void;
}

/**
 * Counts every request under the route template the router matched (`/v1/patients/:id`), or
 * `unmatched`: raw paths carry ids and would make a series per patient.
 */
export function requestMetrics(metrics: RequestMetrics, listener: string): Middleware<AppState> {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      metrics.observe(listener, String(route), ctx.method, ctx.status, Number(process.hrtime.bigint() - started) / 1e9);
    }
  };
}
