import { z } from 'zod';
import { passkeyCount } from '../../db/accounts';
import { recordAudit, recordAuditNow } from '../../db/audit';
import { AccountRow } from '../../db/models/account';
import type { SessionState } from '../../db/models/session';
import { PasswordHistoryRow } from '../../db/models/password-history';
import { rateLimitCount, rateLimitHit, secondsLeftInWindow } from '../../db/rate-limit';
import { createSession, revokeAccountSessions, revokeSession, setSessionState } from '../../db/sessions';
import { getSettings } from '../../db/settings';
import { withTenant } from '../../db/tenant-scope';
import { findTenantBySlug } from '../../db/tenants';
import { normaliseLoginId } from '../../domain/account';
import { afterFailedLogin, isLocked } from '../../domain/lockout';
import { ipInCidrs } from '../../domain/network';
import { MAX_PASSWORD_LENGTH, secondFactorRequired, unmetPasswordRules, type PasswordPolicy } from '../../domain/password-policy';
import { Problem, badRequest, forbidden, unauthorized } from '../../domain/problems';
import { burnVerification, hashPassword, verifyPassword } from '../../lib/password-hash';
import { auditContext } from '../audit-context';
import { onboardingFact } from '../../application/accounts/onboarding';
import { enqueueWorkflow } from '../../db/outbox';
import { defineRoute } from '../route';
import type { AppDeps } from '../app';

const loginBody = z.strictObject({
  tenant: z.string().min(1).max(63),
  loginId: z.string().min(1).max(256),
  password: z.string().min(1).max(4096),
});

const changePasswordBody = z.strictObject({
  currentPassword: z.string().min(1).max(4096),
  newPassword: z.string().min(1).max(4096),
});

const STATES = ['active', 'password_change_required', 'second_factor_enrollment_required', 'second_factor_required'] as const;
const loginReply = z.object({ token: z.string(), state: z.enum(STATES) });

const NO_CLINIC = '00000000-0000-0000-0000-000000000000';

const invalidCredentials = () => new Problem(401, 'invalid_credentials', 'Unauthorized', 'The clinic, login ID or password is wrong.');

/** What a freshly authenticated account must do before it may use the service. */
export function stateAfterPassword(
  account: Pick<AccountRow, 'passwordIsInitial' | 'passwordChangedAt' | 'roles'>,
  policy: PasswordPolicy,
  passkeys: number,
  now: Date,
): SessionState {
  const expired = policy.maxAgeSeconds > 0 && account.passwordChangedAt.getTime() + policy.maxAgeSeconds * 1000 <= now.getTime();
  if (account.passwordIsInitial || expired) return 'password_change_required';
  return stateAfterPasswordChange(account, policy, passkeys);
}

/** After the password is settled: a passkey to enrol, one to present, or nothing. */
export function stateAfterPasswordChange(account: Pick<AccountRow, 'roles'>, policy: PasswordPolicy, passkeys: number): SessionState {
  if (passkeys > 0) return 'second_factor_required';
  return secondFactorRequired(policy, account.roles) ? 'second_factor_enrollment_required' : 'active';
}

export const authRoutes = (deps: AppDeps) => [
  defineRoute({
    method: 'post',
    path: '/v1/auth/login',
    operationId: 'login',
    summary: 'Log in with clinic, login ID and password; the answer says what must happen next',
    tags: ['auth'],
    security: 'none',
    body: loginBody,
    responses: { 200: { description: 'A session token and its state', schema: loginReply } },
    problems: [401, 403, 423, 429],
    handler: async (ctx, { body }) => {
      const ip = ctx.state.clientIp;
      const rateKey = `login-failures:${ip}`;
      const { loginFailuresPerIp, loginRateWindowSeconds } = deps.security;
      if ((await rateLimitCount(deps.db, rateKey, loginRateWindowSeconds)) >= loginFailuresPerIp) {
        ctx.set('Retry-After', String(secondsLeftInWindow(loginRateWindowSeconds)));
        throw new Problem(429, 'rate_limited', 'Too Many Requests', 'Too many failed logins from your address. Try again later.');
      }
      const fail = async (): Promise<never> => {
        await rateLimitHit(deps.db, rateKey, loginRateWindowSeconds);
        throw invalidCredentials();
      };

      const found = await findTenantBySlug(deps.db, body.tenant.toLowerCase());
      // An unknown (or inactive) clinic takes the same path as an unknown user, inside a scope
      // that can see nothing, so the two cost the same database round trips and time.
      const tenant = found?.status === 'active' ? found : undefined;
      const audit = { ...auditContext(ctx), actorType: 'anonymous' as const };
      const loginId = normaliseLoginId(body.loginId);
      const outcome = await withTenant(deps.db, tenant?.id ?? NO_CLINIC, async (trx) => {
        if (!tenant) {
          await getSettings(trx);
          await AccountRow.query(trx).findOne({ loginId }).whereNull('deletedAt').forUpdate();
          await burnVerification(body.password);
          await trx.raw('select 1');
          return { kind: 'bad' as const };
        }
        const { policy, allowlist } = await getSettings(trx);
        if (allowlist.length > 0 && !ipInCidrs(ip, allowlist)) {
          await recordAudit(trx, audit, { action: 'login', outcome: 'denied', details: { loginId, reason: 'ip_not_allowed' } });
          return { kind: 'ip' as const };
        }
        const account = await AccountRow.query(trx).findOne({ loginId }).whereNull('deletedAt').forUpdate();
        if (!account) {
          await burnVerification(body.password);
          await recordAudit(trx, audit, { action: 'login', outcome: 'failed', details: { loginId, reason: 'unknown_login_id' } });
          return { kind: 'bad' as const };
        }
        const now = new Date();
        const actor = { ...audit, actorType: 'account' as const, actorId: account.id, actorRoles: account.roles };
        const ok = body.password.length <= MAX_PASSWORD_LENGTH * 4 && (await verifyPassword(account.passwordHash, body.password));
        if (ok && isLocked(account, now)) {
          await recordAudit(trx, actor, { action: 'login', outcome: 'denied', targetType: 'account', targetId: account.id, details: { reason: 'locked' } });
          return { kind: 'locked' as const, until: account.lockedUntil! };
        }
        const initialExpired = account.passwordIsInitial && account.initialPasswordExpiresAt !== null && account.initialPasswordExpiresAt <= now;
        if (!ok || account.disabled || initialExpired) {
          const reason = !ok ? 'wrong_password' : account.disabled ? 'disabled' : 'initial_password_expired';
          if (!ok) {
            const next = afterFailedLogin(account, policy, now);
            await AccountRow.query(trx)
              .patch({ failedLoginCount: next.failedLoginCount, lastFailedLoginAt: now, lockedUntil: next.lockedUntil })
              .where({ id: account.id });
            if (next.lockedNow) {
              await recordAudit(trx, actor, { action: 'account.lockout', outcome: 'success', targetType: 'account', targetId: account.id, details: { failures: next.failedLoginCount, lockedUntil: next.lockedUntil!.toISOString() } });
            }
          }
          await recordAudit(trx, actor, { action: 'login', outcome: 'failed', targetType: 'account', targetId: account.id, details: { reason } });
          return { kind: 'bad' as const };
        }
        const passkeys = await passkeyCount(trx, account.id);
        const state = stateAfterPassword(account, policy, passkeys, now);
        const firstLogin = account.onboardingState === 'awaiting_first_login';
        await AccountRow.query(trx)
          .patch({
            failedLoginCount: 0,
            lockedUntil: null,
            lastLoginAt: now,
            ...(firstLogin ? { onboardingState: 'password_change_required' as const } : {}),
          })
          .where({ id: account.id });
        const { token } = await createSession(trx, { tenantId: tenant.id, accountId: account.id, state, policy, clientIp: ip, userAgent: ctx.get('User-Agent') || undefined });
        await recordAudit(trx, actor, { action: 'login', outcome: 'success', targetType: 'account', targetId: account.id, details: { state } });
        const outbox = firstLogin ? [await enqueueWorkflow(trx, tenant.id, onboardingFact(account.id, 'firstLogin'))] : [];
        return { kind: 'ok' as const, token, state, outbox };
      });
      if (outcome.kind === 'ip') throw forbidden('ip_not_allowed', 'Your network address is not on this clinic\'s allowlist.');
      if (outcome.kind === 'locked') {
        throw new Problem(423, 'account_locked', 'Locked', 'The account is locked after repeated failed logins. Wait, or ask an administrator to unlock it.', {
          lockedUntil: outcome.until.toISOString(),
        });
      }
      if (outcome.kind === 'bad') return fail();
      await deps.outbox.dispatchCommitted(outcome.outbox);
      ctx.body = { token: outcome.token, state: outcome.state };
    },
  }),

  defineRoute({
    method: 'post',
    path: '/v1/auth/logout',
    operationId: 'logout',
    summary: 'End this session',
    tags: ['auth'],
    security: 'session',
    states: [...STATES],
    responses: { 204: { description: 'Logged out' } },
    handler: async (ctx) => {
      const auth = ctx.state.auth!;
      await withTenant(deps.db, auth.tenantId, async (trx) => {
        await revokeSession(trx, auth.sessionId);
        await recordAudit(trx, auditContext(ctx), { action: 'logout', outcome: 'success', targetType: 'account', targetId: auth.accountId });
      });
      ctx.status = 204;
    },
  }),

  defineRoute({
    method: 'post',
    path: '/v1/auth/password',
    operationId: 'changePassword',
    summary: 'Change your own password; every other session of the account is revoked',
    tags: ['auth'],
    security: 'session',
    states: ['active', 'password_change_required'],
    body: changePasswordBody,
    responses: { 204: { description: 'Changed' } },
    problems: [400],
    handler: async (ctx, { body }) => {
      const auth = ctx.state.auth!;
      const result = await withTenant(deps.db, auth.tenantId, async (trx) => {
        const { policy } = await getSettings(trx);
        const account = await AccountRow.query(trx).findById(auth.accountId).forUpdate();
        if (!account) throw unauthorized();
        if (!(await verifyPassword(account.passwordHash, body.currentPassword))) {
          return { kind: 'wrong' as const };
        }
        const unmet = unmetPasswordRules(body.newPassword, policy, account.loginId);
        if (unmet.length === 0 && policy.historyCount > 0) {
          const previous = await PasswordHistoryRow.query(trx)
            .where({ accountId: account.id })
            .orderBy('createdAt', 'desc')
            .limit(policy.historyCount - 1);
          const hashes = [account.passwordHash, ...previous.map((p) => p.passwordHash)];
          for (const h of hashes) {
            if (await verifyPassword(h, body.newPassword)) {
              unmet.push({ rule: 'reused', message: `must differ from the last ${policy.historyCount} passwords` });
              break;
            }
          }
        } else if (unmet.length === 0 && (await verifyPassword(account.passwordHash, body.newPassword))) {
          unmet.push({ rule: 'reused', message: 'must differ from the current password' });
        }
        if (unmet.length > 0) throw badRequest('password_policy', 'The new password does not meet the clinic\'s policy.', { errors: unmet });

        await PasswordHistoryRow.query(trx).insert({ accountId: account.id, passwordHash: account.passwordHash });
        const passkeys = await passkeyCount(trx, account.id);
        const next = auth.state === 'password_change_required' ? stateAfterPasswordChange(account, policy, passkeys) : auth.state;
        const wasOnboarding = account.onboardingState === 'password_change_required';
        const onboardingNext = next === 'second_factor_enrollment_required' ? 'second_factor_enrollment_required' : 'active';
        await AccountRow.query(trx)
          .patch({
            passwordHash: await hashPassword(body.newPassword),
            passwordIsInitial: false,
            initialPasswordExpiresAt: null,
            passwordChangedAt: new Date(),
            updatedAt: trx.fn.now() as never,
            ...(wasOnboarding ? { onboardingState: onboardingNext } : {}),
          })
          .where({ id: account.id });
        await revokeAccountSessions(trx, account.id, auth.sessionId);
        await setSessionState(trx, auth.sessionId, next);
        await recordAudit(trx, auditContext(ctx), { action: 'password.change', outcome: 'success', targetType: 'account', targetId: account.id });
        const outbox = wasOnboarding
          ? [await enqueueWorkflow(trx, auth.tenantId, onboardingFact(account.id, 'passwordChanged', { secondFactorRequired: onboardingNext !== 'active' }))]
          : [];
        return { kind: 'ok' as const, outbox };
      });
      if (result.kind === 'wrong') {
        await recordAuditNow(deps.db, auth.tenantId, auditContext(ctx), { action: 'password.change', outcome: 'failed', targetType: 'account', targetId: auth.accountId, details: { reason: 'wrong_current_password' } });
        throw badRequest('invalid_current_password', 'The current password is wrong.');
      }
      await deps.outbox.dispatchCommitted(result.outbox);
      ctx.status = 204;
    },
  }),

  defineRoute({
    method: 'get',
    path: '/v1/me',
    operationId: 'getMe',
    summary: 'The signed-in account and its clinic',
    tags: ['auth'],
    security: 'session',
    responses: {
      200: {
        description: 'You',
        schema: z.object({
          accountId: z.string().uuid(),
          loginId: z.string(),
          displayName: z.string(),
          email: z.string(),
          roles: z.array(z.string()),
          passkeyCount: z.number().int(),
          clinic: z.object({ id: z.string().uuid(), slug: z.string(), name: z.string() }),
        }),
      },
    },
    handler: async (ctx) => {
      const auth = ctx.state.auth!;
      ctx.body = await withTenant(deps.db, auth.tenantId, async (trx) => {
        const a = await AccountRow.query(trx).findById(auth.accountId);
        if (!a) throw unauthorized();
        return {
          accountId: a.id,
          loginId: a.loginId,
          displayName: a.displayName,
          email: a.email,
          roles: a.roles,
          passkeyCount: await passkeyCount(trx, a.id),
          clinic: auth.clinic,
        };
      });
    },
  }),
];
