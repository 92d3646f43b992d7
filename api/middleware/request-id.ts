import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from '../../lib/logger';
import type { AppState } from '../state';

// A caller's id is kept only when it cannot smuggle anything into logs or headers: at most 64
// characters of letters, digits, '.', '_' and '-'. Anything else gets a fresh id of ours.
const SAFE_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function requestId(log: Logger): Middleware<AppState> {
  return async (ctx, next) => {
    const incoming = ctx.get('X-Request-Id');
    const id = SAFE_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = id;
    ctx.state.log = log.child({ requestId: id });
    ctx.set('X-Request-Id', id);
    await next();
  };
}
