import type { Middleware } from 'koa';
import type { SecurityEventRecorder } from '../../application/security/security-event-recorder';
import type { Db } from '../../db/connection';
import { authenticateSession, tenantOfToken, touchDue, touchSession, type SessionAuthRecord } from '../../db/sessions';
import type { SessionAuthCache } from '../../db/session-auth-cache';
import { getSettings } from '../../db/settings';
import { withTenant } from '../../db/tenant-scope';
import { ipInCidrs } from '../../domain/network';
import { contractSettled, isReadOnly } from '../../domain/contract';
import { Problem, contractEnded, forbidden, tenantSuspended, unauthorized } from '../../domain/problems';
import { hasAnyRole, mayUseRoleGatedWrite } from '../../domain/roles';
import { deniedAttemptKind } from '../../domain/security-events';
import { auditContext } from '../audit-context';
import type { AnyRoute } from '../route';
import type { AppState } from '../state';

const STATE_DETAIL: Record<string, string> = {
  password_change_required: 'Change your password first (POST /v1/auth/password).',
  second_factor_enrollment_required: 'Register a passkey first (/v1/auth/webauthn/registration/*).',
  second_factor_required: 'Complete two-step verification first (/v1/auth/webauthn/authentication/*).',
};

/**
 * Clinic users' requests. In order: the token names its clinic → the clinic is active → the
 * client address is on the clinic's allowlist → the session is live and its account usable →
 * the session state allows this route → the account has a required role.
 *
 * All of it comes from one query per request (db/sessions.ts authenticateSession), fresh every
 * time: a revoked session, a disabled or deleted account, changed roles, a suspended clinic or a
 * changed allowlist take effect on the next request, in every API process. (With the process's
 * `sessionAuthCache` that query is, while nothing of the clinic's authentication data changed, a
 * read of the clinic's generation counter that proves the kept answer current.) The
 * idle deadline is extended at most once a minute per session (its own short transaction).
 *
 * Refusals are recorded as denied attempts (security_events, one row per clinic, kind, source
 * and minute with a count): requests from outside the allowlist, and every 403 or 404 a
 * signed-in user gets — a row of another clinic is as absent as one that never existed (the
 * same 404), so probing ids shows up as a count of not_found, whichever it hit.
 */
export function sessionAuth(
  deps: { db: Db; securityEvents: Pick<SecurityEventRecorder, 'record'>; sessionAuthCache?: SessionAuthCache<SessionAuthRecord> },
  route: AnyRoute,
): Middleware<AppState> {
  const allowedStates = route.states ?? ['active'];
  const name = `${route.method.toUpperCase()} ${route.path}`;
  return async (ctx, next) => {
    const match = /^Bearer (\S+)$/i.exec(ctx.get('Authorization'));
    const token = match?.[1];
    const tenantId = token ? tenantOfToken(token) : undefined;
    if (!token || !tenantId) throw unauthorized('A valid session token is required.');
    const found = await authenticateSession(deps.db, tenantId, token, deps.sessionAuthCache);
    if (!found) throw unauthorized('A valid session token is required.');
    const { clinic, allowlist, session } = found;
    // Its data is being (or has been) deleted: no session of it counts any more.
    if (contractSettled(clinic.contractState)) throw unauthorized('This clinic\'s contract has ended and its data is being deleted.');
    // The token first: a stranger without a live session learns nothing (not even that the clinic
    // is suspended) and writes nothing.
    if (!session) throw unauthorized('The session has expired or was revoked. Log in again.');
    // Logging out is never refused: it only takes access away (route.endsOwnSession).
    const signOut = route.endsOwnSession === true;
    if (clinic.status === 'suspended' && !signOut) throw tenantSuspended();
    const { account } = session;
    const attempt = { tenantId, clientIp: ctx.state.clientIp, accountId: account.id, route: name };
    if (allowlist.length > 0 && !ipInCidrs(ctx.state.clientIp, allowlist) && !signOut) {
      // Counted per source and minute in the database (shared by every API process); the first
      // of each minute also gets an operation-log entry, naming the account whose live session it was.
      const context = { ...auditContext(ctx), actorType: 'account' as const, actorId: account.id, actorRoles: account.roles };
      await deps.securityEvents.record({
        ...attempt,
        kind: 'ip_denied',
        audit: { context, entry: { action: 'request.ip_denied', outcome: 'denied', details: { method: ctx.method, path: ctx.path } } },
      });
      throw forbidden('ip_not_allowed', 'Your network address is not on this clinic\'s allowlist.');
    }
    if (touchDue(session)) {
      await withTenant(deps.db, tenantId, async (trx) => touchSession(trx, session, (await getSettings(trx)).policy));
    }
    ctx.state.auth = {
      tenantId,
      clinic: { id: clinic.id, slug: clinic.slug, name: clinic.name },
      accountId: account.id,
      sessionId: session.id,
      loginId: account.loginId,
      roles: account.roles,
      state: session.state,
      displayName: account.displayName,
      email: account.email,
      passkeyCount: account.passkeyCount,
    };
    // After the contract's end (decided from the stored end on every request, not from the
    // workflow's progress): reads, exports, signing in/out and taking access away only.
    if (route.method !== 'get' && route.openAfterContractEnd !== true && isReadOnly(clinic.contractState, clinic.contractEndsAt?.getTime() ?? null, Date.now())) {
      if (!route.openAfterContractEnd) throw contractEnded();
      ctx.state.contractEnded = true;
    }
    if (!allowedStates.includes(session.state)) {
      throw forbidden(session.state, STATE_DETAIL[session.state] ?? 'Not allowed in this session state.');
    }
    try {
      if (route.roles && !hasAnyRole(account.roles, route.roles)) {
        throw forbidden('forbidden', `This requires one of the roles: ${route.roles.join(', ')}.`);
      }
      if (route.roles && route.method !== 'get' && !mayUseRoleGatedWrite(account.roles)) {
        throw forbidden('forbidden', 'Auditors are read-only, whatever other role the account has.');
      }
      await next();
    } catch (err) {
      const kind = err instanceof Problem ? deniedAttemptKind(err) : undefined;
      if (kind) await deps.securityEvents.record({ ...attempt, kind });
      throw err;
    }
  };
}
