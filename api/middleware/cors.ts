import type { Middleware } from 'koa';
import type { AppState } from '../state';

/**
 * CORS for the clinics' browser front ends. Only origins in CORS_ORIGINS get CORS headers; any
 * other origin gets none, so browsers keep it out. Credentials are bearer tokens, never cookies,
 * so credentialed CORS is not needed.
 */
const ALLOWED_HEADERS = 'Authorization, Content-Type, Idempotency-Key, X-Request-Id';
const EXPOSED_HEADERS = 'X-Request-Id, Retry-After, Content-Disposition, Location';
const METHODS = 'GET, POST, PUT, PATCH, DELETE';

export function cors(origins: string[]): Middleware<AppState> {
  const allowed = new Set(origins);
  return async (ctx, next) => {
    const origin = ctx.get('Origin');
    ctx.vary('Origin');
    if (!origin || !allowed.has(origin)) return next();
    ctx.set('Access-Control-Allow-Origin', origin);
    ctx.set('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    if (ctx.method === 'OPTIONS' && ctx.get('Access-Control-Request-Method')) {
      ctx.set('Access-Control-Allow-Methods', METHODS);
      ctx.set('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      ctx.set('Access-Control-Max-Age', '600');
      ctx.status = 204;
      return;
    }
    await next();
  };
}
