import type { Middleware } from 'koa';
import { recordAuditNow } from '../../db/audit';
import type { Db } from '../../db/connection';
import { authenticateSession, tenantOfToken, touchDue, touchSession } from '../../db/sessions';
import { getSettings } from '../../db/settings';
import { withTenant } from '../../db/tenant-scope';
import { ipInCidrs } from '../../domain/network';
import { forbidden, unauthorized } from '../../domain/problems';
import { hasAnyRole } from '../../domain/roles';
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
 * All of it comes from one query per request (db/sessions.ts authenticateSession), read fresh
 * every time: a revoked session, a disabled or deleted account, changed roles, a suspended
 * clinic or a changed allowlist take effect on the next request, in every API process. The
 * idle deadline is extended at most once a minute per session (its own short transaction).
 */
/**
 * Counts refusals per key within the current minute, in this process: the first of a minute is
 * logged, the rest only counted (bounded memory: keys of past minutes are dropped).
 */
const ipDenials = (() => {
  let minute = 0;
  let seen = new Map<string, number>();
  return {
    count(key: string, now: number): number {
      const m = Math.floor(now / 60_000);
      if (m !== minute) {
        minute = m;
        seen = new Map();
      }
      if (seen.size > 10_000) seen.clear();
      const n = (seen.get(key) ?? 0) + 1;
      seen.set(key, n);
      return n;
    },
  };
})();

export function sessionAuth(db: Db, route: AnyRoute): Middleware<AppState> {
  const allowedStates = route.states ?? ['active'];
  return async (ctx, next) => {
    const match = /^Bearer (\S+)$/i.exec(ctx.get('Authorization'));
    const token = match?.[1];
    const tenantId = token ? tenantOfToken(token) : undefined;
    if (!token || !tenantId) throw unauthorized('A valid session token is required.');
    const found = await authenticateSession(db, tenantId, token);
    if (!found) throw unauthorized('A valid session token is required.');
    const { clinic, allowlist, session } = found;
    if (clinic.status === 'suspended') throw forbidden('tenant_suspended', 'This clinic\'s service is suspended.');
    // The token first: a stranger without a live session learns nothing and writes nothing.
    if (!session) throw unauthorized('The session has expired or was revoked. Log in again.');
    if (allowlist.length > 0 && !ipInCidrs(ctx.state.clientIp, allowlist)) {
      // One log entry per session, source and minute (with how many were refused before it), not one per request.
      const repeats = ipDenials.count(`${session.id}|${ctx.state.clientIp}`, Date.now());
      if (repeats === 1) {
        await recordAuditNow(db, tenantId, auditContext(ctx), {
          action: 'request.ip_denied',
          outcome: 'denied',
          details: { method: ctx.method, path: ctx.path },
        });
      }
      throw forbidden('ip_not_allowed', 'Your network address is not on this clinic\'s allowlist.');
    }
    if (touchDue(session)) {
      await withTenant(db, tenantId, async (trx) => touchSession(trx, session, (await getSettings(trx)).policy));
    }
    const { account } = session;
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
    if (!allowedStates.includes(session.state)) {
      throw forbidden(session.state, STATE_DETAIL[session.state] ?? 'Not allowed in this session state.');
    }
    if (route.roles && !hasAnyRole(account.roles, route.roles)) {
      throw forbidden('forbidden', `This requires one of the roles: ${route.roles.join(', ')}.`);
    }
    await next();
  };
}
