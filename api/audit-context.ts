import type { ParameterizedContext } from 'koa';
import type { AuditContext } from '../db/audit';
import type { AppState } from './state';

/** Who did it, from where: the part of every operation-log entry that comes from the request. */
export function auditContext(ctx: ParameterizedContext<AppState>): AuditContext {
  const auth = ctx.state.auth;
  return {
    actorType: auth ? 'account' : ctx.state.actor?.kind === 'operator' ? 'operator' : 'anonymous',
    actorId: auth?.accountId ?? (ctx.state.actor?.kind === 'operator' ? 'operator' : null),
    actorRoles: auth?.roles ?? [],
    clientIp: ctx.state.clientIp,
    userAgent: ctx.get('User-Agent') || null,
    requestId: ctx.state.requestId,
  };
}
