import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import type { SecurityEventRecorder } from '../../application/security/security-event-recorder';
import { forbidden, unauthorized } from '../../domain/problems';
import { hasOperatorRole, OPERATOR_ROLES } from '../../domain/operator-roles';
import type { AnyRoute } from '../route';
import type { AppState } from '../state';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Operator endpoints: a bearer token compared in constant time (hashing equalises lengths). A
 * missing or wrong token is recorded as a denied attempt about no clinic (aggregated per source
 * and minute), so operators see someone guessing it.
 */
export function operatorAuth(operatorToken: string, securityEvents: Pick<SecurityEventRecorder, 'record'>) {
  const expected = digest(operatorToken);
  return (route: AnyRoute): Middleware<AppState> => {
    const name = `${route.method.toUpperCase()} ${route.path}`;
    return async (ctx, next) => {
      const header = ctx.get('Authorization');
      const match = /^Bearer ([^\s]+)$/i.exec(header);
      if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
        await securityEvents.record({ kind: 'operator_token', clientIp: ctx.state.clientIp, route: name });
        ctx.set('WWW-Authenticate', 'Bearer realm="operator"');
        throw unauthorized('A valid operator bearer token is required.');
      }
      // Until operator accounts exist, the shared token is the break-glass credential with every role.
      ctx.state.actor = { kind: 'operator', operator: { via: 'break-glass', id: 'break-glass', name: 'break-glass', roles: OPERATOR_ROLES } };
      const roles = route.operatorRoles ?? [];
      if (!hasOperatorRole(ctx.state.actor.operator.roles, roles)) {
        await securityEvents.record({ kind: 'forbidden', clientIp: ctx.state.clientIp, route: name });
        throw forbidden('operator_role_required', `This route needs one of the operator roles: ${roles.join(', ')}.`);
      }
      await next();
    };
  };
}
