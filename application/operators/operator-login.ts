import type { AuditContext } from '../../db/audit';
import { countLoginIdFailure, countOperatorFailure, loginIdLockedUntil } from '../../db/login-failures';
import { recordPlatformEntry } from '../../db/platform-log';
import { createOperatorSession, findOperator, findOperatorByEmail, listOperatorPasskeys, recordOperatorLogin, type OperatorRow } from '../../db/operators';
import { withPlatform, type PlatformTransaction } from '../../db/platform-scope';
import { withTenant } from '../../db/tenant-scope';
import { NO_CLINIC } from '../../domain/ids';
import { refundRateLimits, takeRateLimits } from '../../db/rate-limit';
import { isLocked } from '../../domain/lockout';
import { addressKey } from '../../domain/network';
import { normaliseOperatorEmail, OPERATOR_PASSWORD_POLICY } from '../../domain/operators';
import { Problem, tooManyRequests } from '../../domain/problems';
import { loginIdHash, loginRefusal, stateAfterPassword, type SessionState } from '../../domain/sign-in';
import { accountLocked } from '../auth/lockout';
import { commitPlatformScopeThenDispatch, type Enqueue } from '../commit-then-dispatch';
import type { OperatorDeps } from './operator-deps';
import { noticeOperatorLockout } from './operator-lockout';

export interface OperatorLoginRequest {
  email: string;
  password: string;
  clientIp: string;
  userAgent?: string;
}

export interface OperatorLoginResult {
  token: string;
  state: SessionState;
  expiresAt: Date;
}

const invalidCredentials = () => new Problem(401, 'invalid_credentials', 'Unauthorized', 'The e-mail address or password is wrong.');

type Outcome = { kind: 'ok'; result: OperatorLoginResult } | { kind: 'locked'; until: Date; failed: boolean } | { kind: 'bad' };


/**
 * Step one of an operator's sign-in: e-mail and password. The answer is a session that can do
 * nothing but its next step: change the initial password, enrol a passkey, or present one
 * (operators always need a passkey). The same defences as clinic logins: throttles per network
 * and per e-mail address (429), the lockout rule of the operators' policy (423), the password
 * checked with no transaction open, unknown addresses taking the same steps as known ones. Every
 * failure is a security event (`operator_login`, aggregated per source and minute) and an entry
 * in the platform's operation log.
 */
export async function loginOperator(deps: OperatorDeps, audit: AuditContext, req: OperatorLoginRequest): Promise<OperatorLoginResult> {
  const s = deps.operators;
  const email = normaliseOperatorEmail(req.email);
  const net = addressKey(req.clientIp);
  const emailKey = `operator:${loginIdHash(s.loginIdKey, 'operators', email)}`;
  const throttles = [
    { key: `operator-login:net:${net}`, limit: s.loginFailuresPerIp },
    { key: `operator-login:id:${emailKey}`, limit: s.loginFailuresPerAccount },
  ];
  // Taken before the attempt runs (a burst sent at once is held to the limits too), given back when it was no failure.
  const keys = throttles.map((t) => t.key);
  const { counts, windowStart, retryAfter } = await takeRateLimits(deps.db, keys, s.loginRateWindowSeconds);
  if (throttles.some((t) => counts.get(t.key)! > t.limit)) {
    await refundRateLimits(deps.db, keys, windowStart);
    throw tooManyRequests('rate_limited', 'Too many failed logins. Try again later.', retryAfter(throttles));
  }
  let outcome: Outcome;
  try {
    outcome = await operatorAttempt(deps, req, email, emailKey, audit);
  } catch (err) {
    await refundRateLimits(deps.db, keys, windowStart).catch(() => undefined);
    throw err;
  }
  if (outcome.kind === 'ok') {
    await refundRateLimits(deps.db, keys, windowStart);
    return outcome.result;
  }
  // A refusal while locked counts against the network only, as for clinic logins.
  const failed = outcome.kind === 'bad' || outcome.failed;
  if (!failed) await refundRateLimits(deps.db, keys.slice(1), windowStart);
  await deps.securityEvents.record({ kind: 'operator_login', clientIp: req.clientIp, route: 'POST /v1/operator/auth/login' });
  if (outcome.kind === 'locked') throw accountLocked(outcome.until);
  throw invalidCredentials();
}

async function operatorAttempt(deps: OperatorDeps, req: OperatorLoginRequest, email: string, emailKey: string, audit: AuditContext): Promise<Outcome> {
  const anonymous: AuditContext = { ...audit, actorType: 'anonymous', actorId: null, actorRoles: [] };
  const found = await withPlatform(deps.db, (trx) => findOperatorByEmail(trx, email));
  // An address without an operator is counted and locked like one (login_failures, under the
  // all-zero scope, keyed by the address's HMAC), so a 423 does not tell that an operator exists.
  const lockedUntil = found ? found.lockedUntil : await withTenant(deps.db, NO_CLINIC, (trx) => loginIdLockedUntil(trx, emailKey));
  let outcome: Outcome;
  if (lockedUntil && isLocked({ lockedUntil }, new Date())) {
    outcome = { kind: 'locked', until: lockedUntil, failed: false };
    if (found) {
      await withPlatform(deps.db, (trx) => recordPlatformEntry(trx, asOperator(anonymous, found), { action: 'operator.login', outcome: 'denied', targetType: 'operator', targetId: found.id, details: { reason: 'locked' } }));
    }
  } else {
    const passwordOk = await deps.passwords.check(found?.passwordHash, req.password);
    outcome = found
      ? // The lockout notice is sent in the background: the answer's timing must not depend on Temporal.
        await commitPlatformScopeThenDispatch(deps, (trx, enqueue) => settle(deps, trx, enqueue, found, passwordOk, anonymous, req), { dispatch: 'background' })
      : await withTenant(deps.db, NO_CLINIC, async (trx) => {
          const counted = await countLoginIdFailure(trx, emailKey, OPERATOR_PASSWORD_POLICY.lockout);
          return counted.lockedNow || (!counted.counted && counted.lockedUntil) ? { kind: 'locked', until: counted.lockedUntil!, failed: counted.counted } : { kind: 'bad' };
        });
  }
  return outcome;
}

/** Every entry about an operator names the person (the log's promise), not only their id. */
const asOperator = (anonymous: AuditContext, o: Pick<OperatorRow, 'id' | 'roles' | 'name'>): AuditContext => ({ ...anonymous, actorType: 'operator', actorId: o.id, actorRoles: o.roles, actorName: o.name });

/** With the operator's row locked: the session, or one more failure counted (the one that locks answers 423). */
async function settle(
  deps: OperatorDeps,
  trx: PlatformTransaction,
  enqueue: Enqueue,
  read: OperatorRow,
  passwordOk: boolean,
  anonymous: AuditContext,
  req: OperatorLoginRequest,
): Promise<Outcome> {
  const operator = await findOperator(trx, read.id, { forUpdate: true });
  if (!operator) return { kind: 'bad' };
  const audit = asOperator(anonymous, operator);
  const log = (outcome: 'success' | 'failed' | 'denied', details: Record<string, unknown>) =>
    recordPlatformEntry(trx, audit, { action: 'operator.login', outcome, targetType: 'operator', targetId: operator.id, details });
  // The password changed while this one was being verified: the result is about a password that is gone.
  const ok = passwordOk && operator.passwordHash === read.passwordHash;
  const now = new Date();
  const refusal = loginRefusal({ ...operator, disabled: operator.state === 'disabled' }, ok, now);
  if (refusal === 'locked') {
    await log('denied', { reason: 'locked' });
    return { kind: 'locked', until: operator.lockedUntil!, failed: false };
  }
  if (refusal === 'wrong_password') {
    const counted = await countOperatorFailure(trx, operator.id, OPERATOR_PASSWORD_POLICY.lockout);
    await noticeOperatorLockout(enqueue, operator.id, counted);
    await log('failed', { reason: refusal, ...(counted.lockedNow ? { lockedUntil: counted.lockedUntil } : {}) });
    // Not counted: a concurrent failure locked the row since it was read.
    if (counted.lockedNow || (!counted.counted && counted.lockedUntil)) return { kind: 'locked', until: counted.lockedUntil!, failed: counted.counted };
    return { kind: 'bad' };
  }
  if (refusal) {
    await log('failed', { reason: refusal });
    return { kind: 'bad' };
  }
  const passkeys = (await listOperatorPasskeys(trx, operator.id)).length;
  const state = stateAfterPassword({ ...operator, roles: operator.roles }, OPERATOR_PASSWORD_POLICY, passkeys, now);
  await recordOperatorLogin(trx, operator.id);
  const { token, session } = await createOperatorSession(trx, { operatorId: operator.id, state, timing: deps.operators.session, clientIp: req.clientIp, userAgent: req.userAgent });
  await log('success', { state });
  return { kind: 'ok', result: { token, state, expiresAt: session.absoluteExpiresAt } };
}
