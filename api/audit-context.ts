import type { ParameterizedContext } from 'koa';
import type { AuditContext } from '../db/audit';
import type { AppState } from './state';
import { userAgentOf } from './user-agent';

/** Who did it, from where: the part of every operation-log entry that comes from the request. */
export function auditContext(ctx: ParameterizedContext<AppState>): AuditContext {
  const auth = ctx.state.auth;
  const operator = ctx.state.actor?.operator;
  return {
    actorType: auth ? 'account' : operator ? 'operator' : 'anonymous',
    actorId: auth?.accountId ?? operator?.id ?? null,
    actorRoles: auth?.roles ?? (operator ? [...operator.roles] : []),
    actorName: operator?.name ?? null,
    clientIp: ctx.state.clientIp,
    userAgent: userAgentOf(ctx) ?? null,
    requestId: ctx.state.requestId,
  };
}
