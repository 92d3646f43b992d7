import type { Middleware } from 'koa';
import helmet from 'koa-helmet';
import type { AppState } from '../state';

/**
 * Helmet's defaults plus what an API holding medical data needs: no caching anywhere, and HSTS
 * only when the client really reached us over TLS (our listener, or a TLS-terminating balancer).
 */
export function securityHeaders(opts: { tls: boolean }): Middleware<AppState>[] {
  const hsts = 'max-age=31536000; includeSubDomains';
  return [
    helmet({
      strictTransportSecurity: false,
      contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    }) as Middleware<AppState>,
    async (ctx, next) => {
      ctx.set('Cache-Control', 'no-store');
      if (opts.tls) ctx.set('Strict-Transport-Security', hsts);
      await next();
    },
  ];
}
