import type { Middleware } from 'koa';
import { recordAuditNow } from '../../db/audit';
import type { Db } from '../../db/connection';
import { AccountRow } from '../../db/models/account';
import { findLiveSession, tenantOfToken, touchSession } from '../../db/sessions';
import { getSettings } from '../../db/settings';
import { withTenant } from '../../db/tenant-scope';
import { findTenant } from '../../db/tenants';
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
 */
export function sessionAuth(db: Db, route: AnyRoute): Middleware<AppState> {
  const allowedStates = route.states ?? ['active'];
  return async (ctx, next) => {
    const match = /^Bearer (\S+)$/i.exec(ctx.get('Authorization'));
    const token = match?.[1];
    const tenantId = token ? tenantOfToken(token) : undefined;
    if (!token || !tenantId) throw unauthorized('A valid session token is required.');
    const tenant = await findTenant(db, tenantId);
    if (!tenant) throw unauthorized('A valid session token is required.');
    if (tenant.status === 'suspended') throw forbidden('tenant_suspended', 'This clinic\'s service is suspended.');

    const found = await withTenant(db, tenantId, async (trx) => {
      const { policy, allowlist } = await getSettings(trx);
      if (allowlist.length > 0 && !ipInCidrs(ctx.state.clientIp, allowlist)) return { denied: 'ip' as const };
      const session = await findLiveSession(trx, token);
      if (!session) return { denied: 'session' as const };
      const account = await AccountRow.query(trx).findById(session.accountId);
      if (!account || account.deletedAt || account.disabled) return { denied: 'session' as const };
      await touchSession(trx, session, policy);
      return { session, account };
    });
    if ('denied' in found) {
      if (found.denied === 'ip') {
        await recordAuditNow(db, tenantId, auditContext(ctx), {
          action: 'request.ip_denied',
          outcome: 'denied',
          details: { method: ctx.method, path: ctx.path },
        });
        throw forbidden('ip_not_allowed', 'Your network address is not on this clinic\'s allowlist.');
      }
      throw unauthorized('The session has expired or was revoked. Log in again.');
    }
    const { session, account } = found;
    ctx.state.auth = {
      tenantId,
      clinic: { id: tenant.id, slug: tenant.slug, name: tenant.name },
      accountId: account.id,
      sessionId: session.id,
      loginId: account.loginId,
      roles: account.roles,
      state: session.state,
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
