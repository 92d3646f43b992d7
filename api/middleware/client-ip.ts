import type { Middleware } from 'koa';
import { clientIp } from '../../domain/network';
import type { AppState } from '../state';

/**
 * The client's address from the socket, or from X-Forwarded-For when a trusted proxy sent it.
 * A socket that has no peer address any more was closed by its client before the request got
 * here: nobody is left to answer, and an empty address would only fail later as an `inet`
 * value (a 500 in the logs and the metrics for a request no one sent to the end).
 */
export function clientAddress(trustedProxies: string[]): Middleware<AppState> {
  return async (ctx, next) => {
    const peer = ctx.req.socket.remoteAddress;
    if (peer === undefined) {
      ctx.respond = false;
      ctx.req.socket.destroy();
      return;
    }
    ctx.state.clientIp = clientIp(peer, ctx.get('X-Forwarded-For') || undefined, trustedProxies);
    await next();
  };
}
