import { findAccount, findByLoginId, recordLoginFailure, recordLoginSuccess, spendRoundTrip } from '../../db/accounts';
import { recordAudit, type AuditContext } from '../../db/audit';
import type { AccountRow } from '../../db/models/account';
import { rateLimitCount, rateLimitHit, secondsLeftInWindow } from '../../db/rate-limit';
import { createSession } from '../../db/sessions';
import { getSettings } from '../../db/settings';
import type { TenantTransaction } from '../../db/tenant-scope';
import { withTenant } from '../../db/tenant-scope';
import { findTenantBySlug } from '../../db/tenants';
import { passkeyCount } from '../../db/webauthn';
import { normaliseLoginId } from '../../domain/account';
import { afterFailedLogin } from '../../domain/lockout';
import { isAllowedFrom } from '../../domain/network';
import type { PasswordPolicy } from '../../domain/password-policy';
import { Problem, forbidden, tooManyRequests } from '../../domain/problems';
import { loginRefusal, stateAfterPassword, worthVerifying, type SessionState } from '../../domain/sign-in';
import { burnVerification, verifyPassword } from '../../lib/password-hash';
import { recordOnboardingFact } from '../accounts/onboarding';
import { commitThenDispatch, type Enqueue } from '../commit-then-dispatch';
import type { Actor, Services } from '../deps';

export interface LoginLimits {
  loginFailuresPerIp: number;
  loginRateWindowSeconds: number;
}

export interface LoginRequest {
  tenant: string;
  loginId: string;
  password: string;
  clientIp: string;
  userAgent?: string;
}

type Deps = Pick<Services, 'db' | 'outbox'> & { security: LoginLimits };

/** The scope of a clinic that does not exist: row-level security shows nothing in it. */
const NO_CLINIC = '00000000-0000-0000-0000-000000000000';
/** An id no account has, looked up when there is no account, so that path costs the same. */
const NOBODY = '00000000-0000-0000-0000-000000000000';

const invalidCredentials = () => new Problem(401, 'invalid_credentials', 'Unauthorized', 'The clinic, login ID or password is wrong.');

interface Attempt {
  /** The clinic, if it exists and is active. */
  tenantId: string | undefined;
  scope: string;
  loginId: string;
  policy: PasswordPolicy;
  /** The account as read before its password was verified. */
  account: AccountRow | undefined;
  passwordOk: boolean;
  anonymous: AuditContext;
}

type Outcome = { kind: 'ok'; token: string; state: SessionState } | { kind: 'locked'; until: Date } | { kind: 'bad' };

/**
 * Logs in with clinic, login ID and password, in three steps so that no connection waits while
 * argon2 runs: read the account (a short transaction), verify the password with no transaction
 * open, then settle the attempt with the account's row locked (failure count and lockout, or the
 * session, the first-login fact and the log entries). A wrong password, an unknown user and an
 * unknown clinic take the same steps and get the same 401; failures count against the client's
 * address (429 past the limit).
 */
export async function login(deps: Deps, actor: Actor, req: LoginRequest): Promise<{ token: string; state: SessionState }> {
  const { loginFailuresPerIp, loginRateWindowSeconds } = deps.security;
  const rateKey = `login-failures:${req.clientIp}`;
  if ((await rateLimitCount(deps.db, rateKey, loginRateWindowSeconds)) >= loginFailuresPerIp) {
    throw tooManyRequests('rate_limited', 'Too many failed logins from your address. Try again later.', secondsLeftInWindow(loginRateWindowSeconds));
  }
  const attempt = await readAttempt(deps, actor, req);
  const outcome = await commitThenDispatch(deps, attempt.scope, (trx, enqueue) => settle(trx, enqueue, attempt, req));
  if (outcome.kind === 'locked') {
    throw new Problem(423, 'account_locked', 'Locked', 'The account is locked after repeated failed logins. Wait, or ask an administrator to unlock it.', {
      lockedUntil: outcome.until.toISOString(),
    });
  }
  if (outcome.kind === 'bad') {
    await rateLimitHit(deps.db, rateKey, loginRateWindowSeconds);
    throw invalidCredentials();
  }
  return { token: outcome.token, state: outcome.state };
}

/** Steps one and two: the clinic's settings and the account, then the password checked outside any transaction. */
async function readAttempt(deps: Deps, actor: Actor, req: LoginRequest): Promise<Attempt> {
  const found = await findTenantBySlug(deps.db, req.tenant.toLowerCase());
  // An unknown (or inactive) clinic takes the same path as an unknown user, inside a scope that
  // can see nothing, so the two cost the same database round trips and time.
  const tenantId = found?.status === 'active' ? found.id : undefined;
  const scope = tenantId ?? NO_CLINIC;
  const loginId = normaliseLoginId(req.loginId);
  const anonymous: AuditContext = { ...actor.audit, actorType: 'anonymous' };
  const read = await withTenant(deps.db, scope, async (trx) => {
    const { policy, allowlist } = await getSettings(trx);
    if (!isAllowedFrom(req.clientIp, allowlist)) {
      await recordAudit(trx, anonymous, { action: 'login', outcome: 'denied', details: { loginId, reason: 'ip_not_allowed' } });
      return undefined;
    }
    return { policy, account: await findByLoginId(trx, loginId) };
  });
  if (!read) throw forbidden('ip_not_allowed', 'Your network address is not on this clinic\'s allowlist.');
  const passwordOk = read.account
    ? worthVerifying(req.password) && (await verifyPassword(read.account.passwordHash, req.password))
    : await burnVerification(req.password);
  return { tenantId, scope, loginId, ...read, passwordOk, anonymous };
}

/** Step three, with the account's row locked: the attempt's consequences and its log entries. */
async function settle(trx: TenantTransaction, enqueue: Enqueue, attempt: Attempt, req: LoginRequest): Promise<Outcome> {
  const account = await findAccount(trx, attempt.account?.id ?? NOBODY, { forUpdate: true });
  if (!account) {
    // An unknown user is logged; an unknown clinic has no log, so it spends the same round trip.
    if (attempt.tenantId) {
      await recordAudit(trx, attempt.anonymous, { action: 'login', outcome: 'failed', details: { loginId: attempt.loginId, reason: 'unknown_login_id' } });
    } else {
      await spendRoundTrip(trx);
    }
    return { kind: 'bad' };
  }
  const actor: AuditContext = { ...attempt.anonymous, actorType: 'account', actorId: account.id, actorRoles: account.roles };
  const log = (action: string, outcome: 'success' | 'failed' | 'denied', details: Record<string, unknown>) =>
    recordAudit(trx, actor, { action, outcome, targetType: 'account', targetId: account.id, details });
  if (account.passwordHash !== attempt.account!.passwordHash) {
    // The password changed while this one was being verified: the result is about a password that is gone.
    await log('login', 'failed', { reason: 'password_changed' });
    return { kind: 'bad' };
  }
  const now = new Date();
  const refusal = loginRefusal(account, attempt.passwordOk, now);
  if (refusal === 'locked') {
    await log('login', 'denied', { reason: 'locked' });
    return { kind: 'locked', until: account.lockedUntil! };
  }
  if (refusal) {
    if (refusal === 'wrong_password') {
      const next = afterFailedLogin(account, attempt.policy, now);
      await recordLoginFailure(trx, account.id, next);
      if (next.lockedNow) await log('account.lockout', 'success', { failures: next.failedLoginCount, lockedUntil: next.lockedUntil!.toISOString() });
    }
    await log('login', 'failed', { reason: refusal });
    return { kind: 'bad' };
  }
  const state = stateAfterPassword(account, attempt.policy, await passkeyCount(trx, account.id), now);
  await recordLoginSuccess(trx, account.id, now);
  await recordOnboardingFact(trx, enqueue, account, { kind: 'firstLogin' });
  const { token } = await createSession(trx, { tenantId: attempt.scope, accountId: account.id, state, policy: attempt.policy, clientIp: req.clientIp, userAgent: req.userAgent });
  await log('login', 'success', { state });
  return { kind: 'ok', token, state };
}
