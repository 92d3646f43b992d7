import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { unauthorized } from '../../domain/problems';
import type { AppState } from '../state';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Operator endpoints: a bearer token compared in constant time (hashing equalises lengths). */
export function operatorAuth(operatorToken: string): Middleware<AppState> {
  const expected = digest(operatorToken);
  return async (ctx, next) => {
    const header = ctx.get('Authorization');
    const match = /^Bearer ([^\s]+)$/i.exec(header);
    if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
      ctx.set('WWW-Authenticate', 'Bearer realm="operator"');
      throw unauthorized('A valid operator bearer token is required.');
    }
    ctx.state.actor = { kind: 'operator' };
    await next();
  };
}
