import type { Middleware } from 'koa';
import type { PlatformLogWriter } from '../../application/operators/platform-log-writer';
import { Problem } from '../../domain/problems';
import { auditContext } from '../audit-context';
import type { AppState } from '../state';
import { answerProblem } from './problem-handler';
import { canonicalId } from '../../domain/ids';

/**
 * Every authenticated operator request becomes one entry of the platform operation log, after
 * its answer is known: who (the operator, API key or break-glass, by id and name, and how they
 * authenticated), what (method, route template, the ids in the path, status) and from where.
 * Requests without credentials are not written one by one (anyone could fill the chain with
 * them): operator authentication counts them as denied attempts per source and minute.
 *
 * The log is a security promise, so it fails closed: when the entry cannot be written the
 * answer is replaced by 503 `operation_log_unavailable` — a read's data is not handed out
 * unlogged. A write has committed by then, together with its own entry (in the platform log or
 * the clinic's), so it stays traceable; the problem's detail tells the operator to check before
 * retrying.
 */
export function operatorRequestLog(platformLog: Pick<PlatformLogWriter, 'write'>): Middleware<AppState> {
  return async (ctx, next) => {
    await next();
    const operator = ctx.state.actor?.operator;
    if (!operator) return;
    const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute;
    const status = ctx.status;
    // A refusal's problem code (a fixed word of ours): reauthentication_required and operator_role_required differ.
    const problem = status >= 400 && ctx.body && typeof ctx.body === 'object' ? (ctx.body as { code?: unknown }).code : undefined;
    try {
      // Written in group commits with concurrent requests (application/operators/platform-log-writer.ts).
      await platformLog.write(auditContext(ctx), {
        action: 'operator.request',
        outcome: status < 400 ? 'success' : status === 401 || status === 403 ? 'denied' : 'failed',
        targetType: 'route',
        targetId: `${ctx.method} ${route ?? ctx.path}`,
        // Path parameters are ids (clinics, notices, generations), never personal text.
        details: { status, ...(typeof problem === 'string' ? { code: problem } : {}), via: operator.via, params: boundedParams(ctx.params) },
      });
    } catch (err) {
      ctx.state.log.error({ err: { message: (err as Error).message }, status, route }, 'platform operation log write failed; answering 503');
      answerProblem(
        ctx,
        new Problem(503, 'operation_log_unavailable', 'Service Unavailable', 'The platform operation log could not record this request, so its answer is withheld. A change may have been applied: check before retrying.'),
      );
    }
  };
}

/**
 * Ids are short; whatever else a caller put in a path segment is cut, not stored at length. An id
 * is logged in the one spelling everything else uses (canonicalId), so the entry is found with
 * the changes it caused.
 */
const boundedParams = (params: Record<string, string> | undefined) =>
  Object.fromEntries(Object.entries(params ?? {}).map(([k, v]) => [k, canonicalId(String(v).slice(0, 100))]));
