import { InvalidStoredSettingError } from '../../db/settings';
import type { IncomingMessage } from 'node:http';
import type { Middleware, ParameterizedContext } from 'koa';
import { Problem, conflict, notFound, serviceUnavailable } from '../../domain/problems';
import { isDatabaseUnavailable, isUniqueViolation } from '../../db/errors';
import { isTemporalUnavailable } from '../../temporal/errors';
import type { AppState } from '../state';

/**
 * The only place errors become responses. Known problems keep their status and code;
 * anything else is logged with its stack and answered as an opaque 500 carrying the
 * request id, so nothing internal (stack, SQL, another clinic's data) leaves the process.
 * Two failures are not errors of ours: a client that hung up mid-request (logged, nothing sent)
 * and a unique violation no use case named (409 conflict).
 */
export function problemHandler(): Middleware<AppState> {
  return async (ctx, next) => {
    let problem: Problem;
    try {
      await next();
      if (ctx.status !== 404 || ctx.body !== undefined) return;
      problem = notFound(`No route for ${ctx.method} ${ctx.path}.`);
    } catch (err) {
      if (clientAborted(err, ctx.req)) {
        // Nobody is left to answer: no response is sent, and it is no error of ours. The access
        // log records it as 499 (nginx's "client closed request").
        ctx.state.log?.info({ err: { message: (err as Error).message, code: (err as { code?: string }).code } }, 'client closed the request');
        ctx.status = CLIENT_CLOSED_REQUEST;
        ctx.respond = false;
        if (!ctx.res.destroyed) ctx.res.destroy();
        return;
      }
      problem = toProblem(err, ctx.state);
    }
    answerProblem(ctx, problem);
  };
}

/** Writes a problem as the response (application/problem+json); only the handler above and the operator request log answer this way. */
export function answerProblem(ctx: ParameterizedContext<AppState>, problem: Problem): void {
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
}

const RETRY_AFTER_SECONDS = 5;
const CLIENT_CLOSED_REQUEST = 499;

/** Errors a request stream raises when its client goes away mid-request. */
const ABORT_CODES = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

/** The client hung up (its request stream was aborted or its socket is gone) and that is what failed. */
function clientAborted(err: unknown, req: IncomingMessage): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  const abortError = ABORT_CODES.has(e?.code ?? '') || e?.message === 'aborted';
  const gone = (req.destroyed && !req.complete) || req.socket?.destroyed === true;
  return abortError && gone;
}

function toProblem(err: unknown, state: AppState): Problem {
  if (err instanceof Problem) return err;
  if (isUniqueViolation(err)) {
    // A use case should have named this conflict itself; until it does, it is still the caller's 409.
    state.log?.warn({ constraint: (err as { constraint?: string; nativeError?: { constraint?: string } }).nativeError?.constraint ?? (err as { constraint?: string }).constraint }, 'unique violation not mapped by its use case');
    return conflict('conflict', 'The request conflicts with data that already exists.');
  }
  if (err instanceof InvalidStoredSettingError) {
    // Fail closed: a clinic's stored policy or allowlist that does not parse is never replaced by a
    // default. It is our data, not the caller's input: an error for the operators, a 503 for the clinic.
    state.log?.error({ err: err.message }, 'stored clinic setting is invalid');
    return new Problem(503, 'clinic_settings_invalid', 'Service Unavailable', 'This clinic\'s stored settings cannot be used; the operators have been alerted. Quote the request id when contacting support.', {}, { 'Retry-After': '300' });
  }
  if (isTransactionAborted(err)) {
    // PostgreSQL broke a deadlock or a serialization conflict by failing this transaction: the same
    // request sent again succeeds, so it is the client's 503, and ours to find (an error, not a warning).
    state.log?.error({ err: (err as Error)?.message }, 'transaction aborted by PostgreSQL (deadlock or serialization failure)');
    return new Problem(503, 'service_unavailable', 'Service Unavailable', 'The request collided with another one. Send it again.', {}, { 'Retry-After': '1' });
  }
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

/** 40P01 deadlock_detected, 40001 serialization_failure (pg's error, or objection's wrapping it). */
function isTransactionAborted(err: unknown): boolean {
  const e = err as { code?: string; nativeError?: { code?: string } } | undefined;
  const code = e?.nativeError?.code ?? e?.code;
  return code === '40P01' || code === '40001';
}

/** PostgreSQL or Temporal unreachable, overloaded or restarting: the client may retry; it is not our bug. */
function isDependencyDown(err: unknown): boolean {
  return isDatabaseUnavailable(err) || isTemporalUnavailable(err);
}
