import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { methodNotAllowed } from '../../domain/problems';
import type { AppState } from '../state';

/** Allow lists methods in one order, whatever order the routes were declared in. */
const ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

/**
 * The one place that decides what a method the path does not offer gets, before any body is read
 * or any credential checked: `405 method_not_allowed` with `Allow` for every method, known or
 * exotic (TRACE, PROPFIND, PURGE…), never 501; `200` with `Allow` and no body for OPTIONS (CORS
 * preflights from allowed origins are answered earlier, in cors.ts). A path no route serves
 * falls through to the router, and so to `404 not_found`.
 */
export function allowedMethods(router: Router<AppState>): Middleware<AppState> {
  return async (ctx, next) => {
    const match = router.match(ctx.path, ctx.method);
    if (match.route || match.path.length === 0) return next();
    const offered = new Set(match.path.flatMap((layer) => layer.methods));
    const allowed = ORDER.filter((m) => offered.has(m));
    ctx.set('Allow', allowed.join(', '));
    if (ctx.method === 'OPTIONS') {
      ctx.status = 200;
      ctx.body = '';
      return;
    }
    throw methodNotAllowed(allowed);
  };
}
