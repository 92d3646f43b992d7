import type { ParameterizedContext } from 'koa';
import type { Actor, ClinicActor, OperatorActor, SessionActor } from '../application/deps';
import { auditContext } from './audit-context';
import type { AppState } from './state';

/** The request's caller as the application layer sees it: no Koa beyond this file. */
export function clinicActor(ctx: ParameterizedContext<AppState>): ClinicActor {
  const auth = ctx.state.auth!;
  return { audit: auditContext(ctx), tenantId: auth.tenantId, accountId: auth.accountId, roles: auth.roles };
}

export function sessionActor(ctx: ParameterizedContext<AppState>): SessionActor {
  const auth = ctx.state.auth!;
  return { ...clinicActor(ctx), sessionId: auth.sessionId, sessionState: auth.state };
}

export function actor(ctx: ParameterizedContext<AppState>): Actor {
  return { audit: auditContext(ctx) };
}

/** The operator behind an operator route (operator authentication has run). */
export function operatorActor(ctx: ParameterizedContext<AppState>): OperatorActor {
  const { operator, session } = ctx.state.actor!;
  return { audit: auditContext(ctx), operator, ...(session ? { session } : {}) };
}
