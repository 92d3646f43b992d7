import type { Middleware } from 'koa';
import { clientIp } from '../../domain/network';
import type { AppState } from '../state';

/** The client's address from the socket, or from X-Forwarded-For when a trusted proxy sent it. */
export function clientAddress(trustedProxies: string[]): Middleware<AppState> {
  return async (ctx, next) => {
    ctx.state.clientIp = clientIp(ctx.req.socket.remoteAddress ?? '', ctx.get('X-Forwarded-For') || undefined, trustedProxies);
    await next();
  };
}
