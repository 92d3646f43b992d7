import { createHash, timingSafeEqual } from 'node:crypto';
import type { AuditContext } from '../../db/audit';
import { recordPlatformEntry } from '../../db/platform-log';
import { API_KEY_PREFIX, countBreakGlassUse, liveApiKey, liveOperatorSession, OPERATOR_SESSION_PREFIX } from '../../db/operators';
import { OPERATOR_ROLES, type OperatorPrincipal } from '../../domain/operator-roles';
import { breakGlassWindow } from '../../domain/operators';
import { Problem } from '../../domain/problems';
import { breakGlassAlertWorkflowId } from '../../temporal/workflow-ids';
import { commitPlatformScopeThenDispatch } from '../commit-then-dispatch';
import type { OperatorActor } from '../deps';
import type { OperatorDeps } from './operator-deps';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export type OperatorCredential = Omit<OperatorActor, 'audit'>;

/**
 * Who an operator request's bearer credential stands for, tried in this order:
 * 1. an operator session (`fcos_…`): the person, with the session's state (a session that has not
 *    finished its sign-in may only take its next step; the route decides);
 * 2. an API key (`fcop_…`): the key's name and roles; its last use is recorded;
 * 3. the break-glass token (`OPERATOR_TOKEN`, only while break-glass is enabled): every role, and
 *    each use is logged as `break-glass` and counted in its alert window, whose first use starts
 *    the mail to SECURITY_EMAILS (through the outbox, after commit).
 * Undefined when it is none of these (or expired, revoked, disabled).
 */
export async function authenticateOperator(deps: OperatorDeps, bearer: string, request: { audit: AuditContext; route: string }): Promise<OperatorCredential | undefined> {
  if (bearer.startsWith(OPERATOR_SESSION_PREFIX)) {
    const live = await liveOperatorSession(deps.db, bearer, deps.operators.session);
    if (!live) return undefined;
    const { operator, session } = live;
    return { operator: { via: 'session', id: operator.id, name: operator.name, roles: operator.roles }, session };
  }
  if (bearer.startsWith(API_KEY_PREFIX)) {
    const key = await liveApiKey(deps.db, bearer, request.audit.clientIp ?? '');
    return key && { operator: { via: 'api-key', id: key.id, name: key.name, roles: key.roles } };
  }
  const token = deps.operators.breakGlassToken;
  if (token === undefined || !timingSafeEqual(digest(bearer), digest(token))) return undefined;
  const operator: OperatorPrincipal = { via: 'break-glass', id: 'break-glass', name: 'break-glass', roles: OPERATOR_ROLES };
  await recordBreakGlassUse(deps, { ...request.audit, actorType: 'operator', actorId: operator.id, actorRoles: [...operator.roles], actorName: operator.name }, request.route);
  return { operator };
}

/**
 * Each use is in the platform's operation log; the first use of each alert window (15 minutes)
 * starts that window's mail, later ones are only counted in it: a script using the token a
 * thousand times a minute sends one mail per window, not a thousand.
 */
async function recordBreakGlassUse(deps: OperatorDeps, audit: AuditContext, route: string): Promise<void> {
  const window = breakGlassWindow(new Date());
  // Fail closed, like every operator request: an unrecorded use of the token is refused.
  await commitPlatformScopeThenDispatch(deps, async (trx, enqueue) => {
    const opened = await countBreakGlassUse(trx, window, audit.clientIp ?? '', route);
    await recordPlatformEntry(trx, audit, { action: 'operator.break_glass', outcome: 'success', details: { route } });
    if (opened) {
      await enqueue({ kind: 'start', workflowId: breakGlassAlertWorkflowId(opened), workflowType: 'breakGlassAlertWorkflow', args: [{ windowStart: window.toISOString() }] });
    }
  }).catch((err: unknown) => {
    if (err instanceof Problem) throw err;
    throw new Problem(503, 'operation_log_unavailable', 'Service Unavailable', 'The platform operation log could not record this use of the break-glass token, so it is refused.');
  });
}
