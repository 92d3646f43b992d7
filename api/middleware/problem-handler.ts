import type { Middleware } from 'koa';
import { Problem, notFound, serviceUnavailable } from '../../domain/problems';
import { isDatabaseUnavailable } from '../../db/errors';
import { isTemporalUnavailable } from '../../temporal/errors';
import type { AppState } from '../state';

/**
 * The only place errors become responses. Known problems keep their status and code;
 * anything else is logged with its stack and answered as an opaque 500 carrying the
 * request id, so nothing internal (stack, SQL, another clinic's data) leaves the process.
 */
export function problemHandler(): Middleware<AppState> {
  return async (ctx, next) => {
    let problem: Problem;
    try {
      await next();
      if (ctx.status !== 404 || ctx.body !== undefined) return;
      problem = notFound(`No route for ${ctx.method} ${ctx.path}.`);
    } catch (err) {
      problem = toProblem(err, ctx.state);
    }
    ctx.status = problem.status;
    ctx.type = 'application/problem+json';
    ctx.set(problem.headers);
    // A dependency that is down is worth retrying soon; say when (RFC 9110 Retry-After).
    if (problem.status === 503 && !ctx.response.get('Retry-After')) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
    ctx.body = {
      type: `https://docs.forclinic.example/problems/${problem.code}`,
      title: problem.title,
      status: problem.status,
      code: problem.code,
      detail: problem.detail,
      instance: ctx.path,
      requestId: ctx.state.requestId,
      ...problem.extra,
    };
  };
}

const RETRY_AFTER_SECONDS = 5;

function toProblem(err: unknown, state: AppState): Problem {
  if (err instanceof Problem) return err;
  if (isDependencyDown(err)) {
    state.log?.warn({ err: (err as Error)?.message }, 'a dependency is unavailable');
    return serviceUnavailable('A service this request needs is unavailable. Retry shortly.');
  }
  const e = err as { status?: number; expose?: boolean; message?: string; type?: string };
  // Errors raised by Koa or its router (e.g. 405) carry a status and are safe to expose.
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500 && e.expose) {
    const code = e.status === 405 ? 'method_not_allowed' : e.status === 404 ? 'not_found' : 'bad_request';
    return new Problem(e.status, code, e.message ?? 'Bad Request', e.message);
  }
  state.log?.error({ err }, 'unhandled error');
  return new Problem(500, 'internal_error', 'Internal Server Error', 'An unexpected error occurred. Quote the request id when contacting support.');
}

/** PostgreSQL or Temporal unreachable, overloaded or restarting: the client may retry; it is not our bug. */
function isDependencyDown(err: unknown): boolean {
  return isDatabaseUnavailable(err) || isTemporalUnavailable(err);
}
