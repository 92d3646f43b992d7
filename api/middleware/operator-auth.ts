import type { Middleware } from 'koa';
import { authenticateOperator } from '../../application/operators/authenticate-operator';
import type { OperatorDeps } from '../../application/operators/operator-deps';
import { forbidden, unauthorized } from '../../domain/problems';
import { hasOperatorRole } from '../../domain/operator-roles';
import { auditContext } from '../audit-context';
import type { AnyRoute } from '../route';
import type { AppState } from '../state';

const SESSION_STEP: Record<string, string> = {
  password_change_required: 'Change your initial password first (POST /v1/operator/me/password).',
  second_factor_enrollment_required: 'Register a passkey first (POST /v1/operator/auth/passkeys/registration/options).',
  second_factor_required: 'Present your passkey first (POST /v1/operator/auth/passkeys/authentication/options).',
};

/**
 * Operator endpoints: the bearer credential is an operator's session, an API key, or the
 * break-glass token (application/operators/authenticate-operator.ts). A missing or unknown one is
 * recorded as a denied attempt about no clinic (aggregated per source and minute) and answers
 * 401. A session still signing in may only take the steps the route names (403 with the step as
 * the code); a role the route does not allow answers 403 operator_role_required.
 */
export function operatorAuth(deps: OperatorDeps) {
  return (route: AnyRoute): Middleware<AppState> => {
    const name = `${route.method.toUpperCase()} ${route.path}`;
    const states: readonly string[] = route.operatorStates ?? ['active'];
    const roles = route.operatorRoles ?? [];
    return async (ctx, next) => {
      const match = /^Bearer ([^\s]+)$/i.exec(ctx.get('Authorization'));
      const credential = match ? await authenticateOperator(deps, match[1]!, { audit: auditContext(ctx), route: name }) : undefined;
      if (!credential) {
        await deps.securityEvents.record({ kind: 'operator_token', clientIp: ctx.state.clientIp, route: name });
        ctx.set('WWW-Authenticate', 'Bearer realm="operator"');
        throw unauthorized('A valid operator session, API key or token is required.');
      }
      ctx.state.actor = { kind: 'operator', ...credential };
      const state = credential.session?.state ?? 'active';
      if (!states.includes(state)) throw forbidden(state, SESSION_STEP[state] ?? 'This session may not do this.');
      if (!hasOperatorRole(credential.operator.roles, roles)) {
        await deps.securityEvents.record({ kind: 'forbidden', clientIp: ctx.state.clientIp, route: name });
        throw forbidden('operator_role_required', `This route needs one of the operator roles: ${roles.join(', ')}.`);
      }
      if (route.notByApiKey && credential.operator.via === 'api-key') {
        await deps.securityEvents.record({ kind: 'forbidden', clientIp: ctx.state.clientIp, route: name });
        throw forbidden('operator_session_required', 'Only a person (an operator session, or break-glass) can do this, not an API key.');
      }
      await next();
    };
  };
}
