import type { Middleware } from 'koa';
import type { AppState } from '../state';

/** One line per request. The path is logged without its query string: searches may carry names. */
export function accessLog(): Middleware<AppState> {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const entry = { method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10 };
      if (ctx.status >= 500) ctx.state.log.error(entry, 'request');
      else ctx.state.log.info(entry, 'request');
    }
  };
}
