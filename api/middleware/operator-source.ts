import type { Middleware } from 'koa';
import type { SecurityEventRecorder } from '../../application/security/security-event-recorder';
import { forbidden } from '../../domain/problems';
import { ipInCidrs } from '../../domain/network';
import type { AppState } from '../state';

/**
 * The operator listener's source allowlist (OPERATOR_ALLOWED_CIDRS), checked before anything
 * else on every path, health included. A refused source answers 403 `source_not_allowed` (the
 * listener is internal; naming the reason helps an operator with a misconfigured network more
 * than hiding it would) and is recorded as an `ip_denied` attempt about no clinic, aggregated
 * per source and minute like every denied attempt.
 */
export function operatorSource(allowed: readonly string[], securityEvents: Pick<SecurityEventRecorder, 'record'>): Middleware<AppState> {
  return async (ctx, next) => {
    if (!ipInCidrs(ctx.state.clientIp, allowed)) {
      await securityEvents.record({ kind: 'ip_denied', clientIp: ctx.state.clientIp });
      throw forbidden('source_not_allowed', 'Your network address may not reach the operator listener (OPERATOR_ALLOWED_CIDRS).');
    }
    await next();
  };
}
