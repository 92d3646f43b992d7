import { findAccount, findByLoginId, recordLoginSuccess } from '../../db/accounts';
import { recordAudit, type AuditContext } from '../../db/audit';
import { countLoginIdFailure, loginIdLockedUntil } from '../../db/login-failures';
import { isSignInFromSomewhereNew, signInNotice, signInNoticeAllowed } from './sign-in-notice';
import { recordLoginProbe } from '../../db/login-probes';
import type { AccountRow } from '../../db/models/account';
import { refundRateLimits, takeRateLimits } from '../../db/rate-limit';
import { createSession, latestSignIn } from '../../db/sessions';
import { getSettings } from '../../db/settings';
import type { TenantTransaction } from '../../db/tenant-scope';
import { withTenant } from '../../db/tenant-scope';
import { contractSettled } from '../../domain/contract';
import { findTenantBySlug } from '../../db/tenants';
import { passkeyCount } from '../../db/webauthn';
import { normaliseLoginId } from '../../domain/account';
import { isLocked } from '../../domain/lockout';
import { addressKey, isAllowedFrom } from '../../domain/network';
import type { PasswordPolicy } from '../../domain/password-policy';
import { Problem, forbidden, tooManyRequests } from '../../domain/problems';
import { loginIdHash, loginRefusal, stateAfterPassword, type SessionState } from '../../domain/sign-in';
import { recordOnboardingFact } from '../accounts/onboarding';
import { commitThenDispatch, type Enqueue } from '../commit-then-dispatch';
import type { Actor, Services } from '../deps';
import { accountLocked, countWrongPassword } from './lockout';
import { NO_CLINIC } from '../../domain/ids';

export interface LoginLimits {
  /** Failed logins per window from one network (an IPv4 address, an IPv6 /64). */
  loginFailuresPerIp: number;
  /** Failed logins per window for one login ID of a clinic, from anywhere, whether or not it exists. */
  loginFailuresPerAccount: number;
  /** Failed logins per window for one clinic (all login IDs, from anywhere). */
  loginFailuresPerClinic: number;
  loginRateWindowSeconds: number;
  /** The key of the HMAC that stands for login IDs (LOGIN_ID_HMAC_KEY). */
  loginIdKey: string;
}

export interface LoginRequest {
  tenant: string;
  loginId: string;
  password: string;
  clientIp: string;
  userAgent?: string;
}

type Deps = Pick<Services, 'db' | 'outbox' | 'passwords' | 'securityEvents'> & { security: LoginLimits };

/**
 * The account's sign-in before this one (前回のログイン): when and from where, for the front end to
 * show at sign-in, so that a holder sees at once a sign-in they did not make. Answered with an
 * active session only (by the login, or by the passkey step that completes it); null when none is
 * kept (the first time, or after 30 days away: ended sessions are pruned then).
 */
export interface PreviousSignIn {
  at: string;
  clientIp: string | null;
}

export const previousSignInOf = (session: { createdAt: Date; clientIp: string | null } | undefined): PreviousSignIn | null =>
  session ? { at: session.createdAt.toISOString(), clientIp: session.clientIp } : null;

export interface LoginReply {
  token: string;
  state: SessionState;
  previousSignIn: PreviousSignIn | null;
}


const invalidCredentials = () => new Problem(401, 'invalid_credentials', 'Unauthorized', 'The clinic, login ID or password is wrong.');

/** Who the attempt is for, as far as can be known without the database's help. */
interface Target {
  /** The clinic, if it exists and is active. */
  tenantId: string | undefined;
  /** Its scope: the clinic, or NO_CLINIC. */
  scope: string;
  loginId: string;
  /** The login ID's HMAC within its clinic (or the unknown clinic's slug): the key of its counters. */
  loginKey: string;
  /** The client's network: IPv4 address or IPv6 /64. */
  clientNet: string;
  /** Counters checked before anything else; `refusals`: a refusal while locked counts too. */
  throttles: Array<{ key: string; limit: number; refusals: boolean }>;
}

type Read = { kind: 'denied' } | { kind: 'locked'; until: Date } | { kind: 'open'; policy: PasswordPolicy; account: AccountRow | undefined };

/** `failed`: a failure that counts against the throttles (a wrong password, not a refusal while locked). */
type Outcome = { kind: 'ok'; token: string; state: SessionState; previousSignIn: PreviousSignIn | null } | { kind: 'locked'; until: Date; failed: boolean } | { kind: 'bad'; failed: true };

/**
 * Logs in with clinic, login ID and password. Unknown clinics, unknown login IDs and existing
 * accounts take the same steps and get the same answers:
 * 1. throttles: failures per network, per clinic and per login ID (429 past any of them);
 * 2. read, in a short transaction: the clinic's settings, the account, and whether the login ID
 *    is locked — if so, 423 at once, without looking at the password;
 * 3. the password checked with no transaction open (argon2; a dummy verification when there is
 *    no account or the password is too long);
 * 4. settle, with the account's row locked: the session, or one more failure counted in a single
 *    statement (the failure that locks answers 423 and starts the lockout notice). Login IDs
 *    without an account are counted and locked alike, and recorded as probes.
 */
export async function login(deps: Deps, actor: Actor, req: LoginRequest): Promise<LoginReply> {
  const target = await identify(deps, req);
  // A login to a clinic that does not exist is a denied attempt about no clinic, however it is
  // answered. Its record is written beside the attempt's own work (never rejects) and awaited
  // before the answer, so this costs about what the other failures cost.
  const knock = target.tenantId ? undefined : deps.securityEvents.record({ kind: 'unknown_clinic_login', clientIp: req.clientIp });
  try {
    return await attempt(deps, actor, req, target);
  } finally {
    await knock;
  }
}

async function attempt(deps: Deps, actor: Actor, req: LoginRequest, target: Target): Promise<LoginReply> {
  const window = deps.security.loginRateWindowSeconds;
  const keys = target.throttles.map((t) => t.key);
  // Counted as a failure before it runs (so a burst sent at once is held to the limits too) and
  // given back below when it is not one. A refused attempt does not count.
  const { counts, windowStart, retryAfter } = await takeRateLimits(deps.db, keys, window);
  if (target.throttles.some((t) => counts.get(t.key)! > t.limit)) {
    await refundRateLimits(deps.db, keys, windowStart);
    throw tooManyRequests('rate_limited', 'Too many failed logins. Try again later.', retryAfter(target.throttles));
  }
  let outcome: Outcome;
  try {
    outcome = await attemptCounted(deps, actor, req, target);
  } catch (err) {
    // Not a login failure (the allowlist's refusal, or our own error): it does not count.
    await refundRateLimits(deps.db, keys, windowStart).catch(() => undefined);
    throw err;
  }
  // A success gives every count back. A refusal while locked costs no argon2 and counts against the
  // client's network only: hammering a locked login ID is throttled (each refusal is logged), but
  // cannot exhaust a clinic's limits.
  const refunded = outcome.kind === 'ok' ? target.throttles : target.throttles.filter((t) => !outcome.failed && !t.refusals);
  await refundRateLimits(deps.db, refunded.map((t) => t.key), windowStart);
  if (outcome.kind === 'ok') return { token: outcome.token, state: outcome.state, previousSignIn: outcome.previousSignIn };
  if (outcome.kind === 'locked') throw accountLocked(outcome.until);
  throw invalidCredentials();
}

/** The attempt itself, once the throttles have taken it: the allowlist, the lock, the password. */
async function attemptCounted(deps: Deps, actor: Actor, req: LoginRequest, target: Target): Promise<Outcome> {
  const anonymous: AuditContext = { ...actor.audit, actorType: 'anonymous' };
  const read = await withTenant(deps.db, target.scope, (trx) => readAttempt(trx, target, anonymous, req));
  if (read.kind === 'denied') {
    // Aggregated per source and minute (an attacker outside the list decides how often it comes);
    // the first of each minute also gets its operation-log entry.
    await deps.securityEvents.record({
      kind: 'ip_denied',
      tenantId: target.tenantId,
      clientIp: req.clientIp,
      audit: { context: anonymous, entry: { action: 'login', outcome: 'denied', details: { reason: 'ip_not_allowed' } } },
    });
    throw forbidden('ip_not_allowed', 'Your network address is not on this clinic\'s allowlist.');
  }
  if (read.kind === 'locked') return { kind: 'locked', until: read.until, failed: false };
  const passwordOk = await deps.passwords.check(read.account?.passwordHash, req.password);
  // The lockout notice is sent in the background: the answer's timing must not depend on Temporal.
  return commitThenDispatch(deps, target.scope, (trx, enqueue) => settle(trx, enqueue, target, read, passwordOk, anonymous, req), { dispatch: 'background' });
}

async function identify(deps: Deps, req: LoginRequest): Promise<Target> {
  const slug = req.tenant.toLowerCase();
  const found = await findTenantBySlug(deps.db, slug);
  // An unknown (or inactive) clinic takes the same path as an unknown user, inside a scope that
  // can see nothing of any clinic, so the two cost the same and answer the same. So does one whose
  // data is being (or has been) deleted after its contract ended: no new session may appear in it.
  const tenantId = found?.status === 'active' && !contractSettled(found.contractState) ? found.id : undefined;
  const { loginIdKey, loginFailuresPerIp, loginFailuresPerClinic, loginFailuresPerAccount } = deps.security;
  const loginId = normaliseLoginId(req.loginId);
  const loginKey = loginIdHash(loginIdKey, tenantId ?? `slug:${slug}`, loginId);
  const clinic = tenantId ?? `unknown:${loginIdHash(loginIdKey, 'slug', slug)}`;
  const clientNet = addressKey(req.clientIp);
  return {
    tenantId,
    scope: tenantId ?? NO_CLINIC,
    loginId,
    loginKey,
    clientNet,
    throttles: [
      { key: `login:net:${clientNet}`, limit: loginFailuresPerIp, refusals: true },
      { key: `login:clinic:${clinic}`, limit: loginFailuresPerClinic, refusals: false },
      { key: `login:id:${clinic}:${loginKey}`, limit: loginFailuresPerAccount, refusals: false },
    ],
  };
}

/** Step two: settings, allowlist, account and lock; a locked login ID's refusal is recorded here. */
async function readAttempt(trx: TenantTransaction, t: Target, anonymous: AuditContext, req: LoginRequest): Promise<Read> {
  const { policy, allowlist } = await getSettings(trx);
  if (!isAllowedFrom(req.clientIp, allowlist)) return { kind: 'denied' };
  const account = await findByLoginId(trx, t.loginId);
  const lockedUntil = account ? account.lockedUntil : await loginIdLockedUntil(trx, t.loginKey);
  if (!lockedUntil || !isLocked({ lockedUntil }, new Date())) return { kind: 'open', policy, account };
  if (account) {
    await recordAudit(trx, accountActor(anonymous, account), { action: 'login', outcome: 'denied', targetType: 'account', targetId: account.id, details: { reason: 'locked' } });
  } else {
    await recordProbe(trx, t, anonymous);
  }
  return { kind: 'locked', until: lockedUntil };
}

const accountActor = (anonymous: AuditContext, account: AccountRow): AuditContext => ({ ...anonymous, actorType: 'account', actorId: account.id, actorRoles: account.roles });

/** Step four, with the account's row locked: the attempt's consequences and its log entries. */
async function settle(
  trx: TenantTransaction,
  enqueue: Enqueue,
  t: Target,
  read: Extract<Read, { kind: 'open' }>,
  passwordOk: boolean,
  anonymous: AuditContext,
  req: LoginRequest,
): Promise<Outcome> {
  if (!read.account) return settleWithoutAccount(trx, t, read.policy, anonymous);
  const account = await findAccount(trx, read.account.id, { forUpdate: true });
  // Deleted while its password was being verified.
  if (!account) return { kind: 'bad', failed: true };
  const actor = accountActor(anonymous, account);
  const log = (action: string, outcome: 'success' | 'failed' | 'denied', details: Record<string, unknown>) =>
    recordAudit(trx, actor, { action, outcome, targetType: 'account', targetId: account.id, details });
  if (account.passwordHash !== read.account.passwordHash) {
    // The password changed while this one was being verified: the result is about a password that is gone.
    await log('login', 'failed', { reason: 'password_changed' });
    return { kind: 'bad', failed: true };
  }
  const now = new Date();
  const refusal = loginRefusal(account, passwordOk, now);
  if (refusal === 'locked') {
    // Locked by a concurrent failure since step two: nothing is counted, whatever the password.
    await log('login', 'denied', { reason: 'locked' });
    return { kind: 'locked', until: account.lockedUntil!, failed: false };
  }
  if (refusal) {
    // A disabled account, or an expired initial password, counts toward the lockout like a wrong
    // password, right password or not: otherwise the lockout (423 after the fifth wrong one, never
    // after right ones) would tell a guesser which of their guesses was a departed employee's password.
    const lockedUntil = await countWrongPassword(trx, enqueue, actor, { id: account.id, tenantId: t.scope }, read.policy);
    await log('login', 'failed', { reason: refusal });
    return lockedUntil ? { kind: 'locked', until: lockedUntil, failed: true } : { kind: 'bad', failed: true };
  }
  const state = stateAfterPassword(account, read.policy, await passkeyCount(trx, account.id), now);
  // Asked before this login's session exists (and of the account as it was before this login).
  const somewhereNew = await isSignInFromSomewhereNew(trx, account, req);
  // Read only when it will be answered (an active session): every other login would discard it.
  const previous = state === 'active' ? await latestSignIn(trx, account.id) : undefined;
  const notify = somewhereNew && (await signInNoticeAllowed(trx, account.id));
  await recordLoginSuccess(trx, account.id, now);
  await recordOnboardingFact(trx, enqueue, account, { kind: 'firstLogin' });
  const { token, session, sessionsEnded } = await createSession(trx, {
    tenantId: t.scope, accountId: account.id, state, policy: read.policy, clientIp: req.clientIp, userAgent: req.userAgent, newDevice: somewhereNew,
  });
  if (notify) await enqueue(signInNotice({ tenantId: t.scope, accountId: account.id, sessionId: session.id }));
  await log('login', 'success', {
    state,
    ...(sessionsEnded ? { sessionsEnded } : {}),
    ...(somewhereNew ? { newDevice: true, ...(notify ? {} : { noticeSuppressed: true }) } : {}),
  });
  // Only to a sign-in that is complete: a password alone, with a passkey still to present, must not
  // learn when and from where the holder last signed in (the passkey step answers it then).
  return { kind: 'ok', token, state, previousSignIn: state === 'active' ? previousSignInOf(previous) : null };
}

/** A login ID without an account (or a clinic that does not exist): counted and locked like an account, recorded as a probe. */
async function settleWithoutAccount(trx: TenantTransaction, t: Target, policy: PasswordPolicy, anonymous: AuditContext): Promise<Outcome> {
  const counted = await countLoginIdFailure(trx, t.loginKey, policy.lockout);
  await recordProbe(trx, t, anonymous);
  if (counted.lockedNow || (!counted.counted && counted.lockedUntil)) return { kind: 'locked', until: counted.lockedUntil!, failed: counted.counted };
  return { kind: 'bad', failed: true };
}

/**
 * One more attempt in the probe record (one row per network and minute, with a count and the
 * login IDs' HMACs). In a clinic, the minute's first attempt from a network also gets an entry in
 * the operation log, with the HMAC, never the login ID itself: it may be a password typed in the
 * wrong field.
 */
async function recordProbe(trx: TenantTransaction, t: Target, anonymous: AuditContext): Promise<void> {
  const first = await recordLoginProbe(trx, t.clientNet, t.loginKey);
  if (first && t.tenantId) {
    await recordAudit(trx, anonymous, { action: 'login.probe', outcome: 'failed', details: { reason: 'unknown_login_id', loginIdHash: t.loginKey, network: t.clientNet } });
  }
}
