import { checkedAllowlist } from './settings';
import { createHash, randomBytes } from 'node:crypto';
import type { PasswordPolicy } from '../domain/password-policy';
import { isUuid } from '../domain/ids';
import type { Role } from '../domain/roles';
import type { TenantStatus } from '../domain/tenant';
import { SIGN_IN_NETWORK_PREFIX } from '../domain/sign-in-device';
import type { ContractState } from '../domain/contract';
import { preparedQuery, type Db } from './connection';
import type { SessionAuthCache } from './session-auth-cache';
import { SessionRow, type SessionState } from './models/session';
import { tenantIdOf, type TenantTransaction } from './tenant-scope';

/**
 * Sessions are opaque random tokens; only their SHA-256 is stored, so a copy of the database
 * holds no usable token. The token also carries the clinic's id (not secret), so a request can
 * be scoped to its clinic, and checked against the clinic's allowlist, before any lookup.
 */
const PREFIX = 'fcs_';
const UUID_HEX = /^([0-9a-f]{8})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{12})$/;

export const hashToken = (token: string) => createHash('sha256').update(token, 'utf8').digest();

export function newToken(tenantId: string): string {
  const tenant = Buffer.from(tenantId.replace(/-/g, ''), 'hex');
  return PREFIX + Buffer.concat([tenant, randomBytes(32)]).toString('base64url');
}

/** The clinic a token claims to belong to (unverified until its hash is found in that clinic). */
export function tenantOfToken(token: string): string | undefined {
  if (!token.startsWith(PREFIX) || token.length !== PREFIX.length + 64) return undefined;
  const raw = Buffer.from(token.slice(PREFIX.length), 'base64url');
  if (raw.length !== 48) return undefined;
  const m = UUID_HEX.exec(raw.subarray(0, 16).toString('hex'));
  return m ? m.slice(1).join('-') : undefined;
}

/** A session that still works: not revoked, neither deadline passed (database time). */
const LIVE = 'revoked_at is null and idle_expires_at > now() and absolute_expires_at > now()';

/** The user agent as a session keeps it (and as a login compares it with the kept ones). */
export const keptUserAgent = (userAgent: string | null | undefined): string | null => userAgent?.slice(0, 512) ?? null;

/** Live sessions one account may hold (devices signed in at once); a new one ends the oldest beyond it. */
export const MAX_LIVE_SESSIONS_PER_ACCOUNT = 20;

export async function createSession(
  trx: TenantTransaction,
  args: {
    tenantId: string;
    accountId: string;
    state: SessionState;
    policy: PasswordPolicy;
    clientIp: string | null;
    userAgent: string | undefined | null;
    /** The passkey (webauthn_credentials.id) the session begins by presenting: second step passed, or enrolment finished. */
    secondFactor?: string;
    /** A sign-in from a device or network the account had not used lately. */
    newDevice?: boolean;
  },
): Promise<{ token: string; session: SessionRow; sessionsEnded: number }> {
  const token = newToken(args.tenantId);
  const now = Date.now();
  const session = await SessionRow.query(trx).insertAndFetch({
    accountId: args.accountId,
    tokenHash: hashToken(token),
    state: args.state,
    clientIp: args.clientIp,
    userAgent: keptUserAgent(args.userAgent),
    idleExpiresAt: new Date(now + args.policy.session.idleTimeoutSeconds * 1000),
    absoluteExpiresAt: new Date(now + args.policy.session.absoluteLifetimeSeconds * 1000),
    ...(args.secondFactor ? { secondFactorAt: trx.fn.now() as never, secondFactorCredentialId: args.secondFactor } : {}),
    ...(args.newDevice ? { newDevice: true } : {}),
  });
  // The account's oldest live sessions beyond the cap end with this one: logins are not limited
  // (only failures are), so an account could pile up open sessions without end — each a token
  // that works until its deadlines, 30,000 of them in an attack run.
  const { rowCount } = await trx.raw(
    `update sessions set revoked_at = now()
      where id in (select id from sessions
                    where account_id = ? and ${LIVE}
                    order by created_at desc, id desc offset ?)`,
    [args.accountId, MAX_LIVE_SESSIONS_PER_ACCOUNT],
  );
  return { token, session, sessionsEnded: rowCount ?? 0 };
}

export interface SessionAuthentication {
  clinic: { id: string; slug: string; name: string; status: TenantStatus; contractState: ContractState; contractEndsAt: Date | null };
  allowlist: string[];
  /** Absent when the token names no live session of a usable account. */
  session?: {
    id: string;
    state: SessionState;
    lastSeenAt: Date;
    idleExpiresAt: Date;
    absoluteExpiresAt: Date;
    /** The account as its owner sees it on /v1/me, read in the same round trip. */
    account: { id: string; loginId: string; roles: Role[]; displayName: string; email: string; passkeyCount: number };
  };
}

/**
 * What authentication needs about a request, in one round trip (the session_auth function):
 * the clinic the token claims, its allowlist, and the session if it is live — not revoked, not
 * idle too long, not too old — and its account neither disabled nor deleted, with the few
 * profile fields `GET /v1/me` shows (so that route needs no query of its own). Undefined when
 * the clinic does not exist. Runs on the pool, outside any transaction.
 *
 * With a `cache` (the API's), an answer kept for this token is used when the clinic's
 * authentication generation, read now, is the one it was read at: one primary-key read instead of
 * the function (whose plpgsql call, tenant scope and five index scans under row-level security
 * cost PostgreSQL several times a `SELECT 1`). Any change to what the function reads moves the
 * generation when it commits, so the answer is the one a full read would give.
 */
export async function authenticateSession(
  db: Db,
  tenantId: string,
  token: string,
  cache?: SessionAuthCache<SessionAuthRecord>,
): Promise<SessionAuthentication | undefined> {
  if (!isUuid(tenantId)) return undefined;
  const tokenHash = hashToken(token);
  const kept = cache?.get(tokenHash);
  if (kept && kept.tenantId === tenantId) {
    const answer = answerOf(tenantId, kept.record);
    // Only while the kept deadlines say live and no touch is due: a touch (its own or another
    // process's) extends the deadline without moving the generation, so a kept answer that looks
    // expired or due may be out of date the one way that matters, and is read again.
    if (answer.session && !touchDue(answer.session)) {
      const [now] = await preparedQuery<{ generation: string }>(db, 'auth_generation', 'select generation from auth_generations where tenant_id = $1::uuid', [tenantId]);
      if (now && now.generation === kept.generation) return answer;
    }
  }
  const [r] = await preparedQuery<SessionAuthRecord>(db, 'session_auth', 'select * from session_auth($1::uuid, $2::bytea)', [tenantId, tokenHash]);
  if (cache) {
    // A string only: a database not yet migrated has no such column (undefined), and nothing is kept.
    if (r && r.session_id !== null && typeof r.auth_generation === 'string') cache.set(tokenHash, { tenantId, generation: r.auth_generation, record: r });
    else cache.delete(tokenHash);
  }
  return r ? answerOf(tenantId, r) : undefined;
}

/** The answer from a session_auth() row, liveness judged now (a kept row's deadlines pass too). */
function answerOf(tenantId: string, r: SessionAuthRecord): SessionAuthentication {
  const now = Date.now();
  const live = r.session_id !== null && r.idle_expires_at!.getTime() > now && r.absolute_expires_at!.getTime() > now;
  return {
    clinic: { id: tenantId, slug: r.tenant_slug, name: r.tenant_name, status: r.tenant_status, contractState: r.contract_state, contractEndsAt: r.contract_ends_at },
    // Copies: a kept row is shared by every request of its session.
    allowlist: checkedAllowlist(tenantId, [...r.network_allowlist]),
    session: live
      ? {
          id: r.session_id!,
          state: r.session_state!,
          lastSeenAt: r.last_seen_at!,
          idleExpiresAt: r.idle_expires_at!,
          absoluteExpiresAt: r.absolute_expires_at!,
          account: { id: r.account_id!, loginId: r.login_id!, roles: [...r.roles!], displayName: r.display_name!, email: r.email!, passkeyCount: r.passkey_count! },
        }
      : undefined,
  };
}

export interface SessionAuthRecord {
  tenant_slug: string;
  tenant_name: string;
  tenant_status: TenantStatus;
  network_allowlist: string[];
  session_id: string | null;
  session_state: SessionState | null;
  last_seen_at: Date | null;
  idle_expires_at: Date | null;
  absolute_expires_at: Date | null;
  account_id: string | null;
  login_id: string | null;
  roles: Role[] | null;
  display_name: string | null;
  email: string | null;
  passkey_count: number | null;
  contract_state: ContractState;
  contract_ends_at: Date | null;
  /** The clinic's authentication generation (int8, so a decimal string); null only for a clinic made before its counter. */
  auth_generation: string | null;
}

/**
 * Extending the idle deadline is written at most once a minute per session, to spare the
 * database — and at least four times per idle timeout, so that a clinic's short timeout (the
 * policy allows seconds) does not end the session of someone using it meanwhile.
 */
export const TOUCH_INTERVAL_MS = 60_000;
const touchInterval = (session: { lastSeenAt: Date; idleExpiresAt: Date }) =>
  Math.min(TOUCH_INTERVAL_MS, Math.max(0, session.idleExpiresAt.getTime() - session.lastSeenAt.getTime()) / 4);
export const touchDue = (session: { lastSeenAt: Date; idleExpiresAt: Date }, now = Date.now()) => now - session.lastSeenAt.getTime() >= touchInterval(session);

/** Extends the idle deadline (never past the absolute one); a no-op if another request just did. */
export async function touchSession(
  trx: TenantTransaction,
  session: { id: string; lastSeenAt: Date; idleExpiresAt: Date; absoluteExpiresAt: Date },
  policy: PasswordPolicy,
): Promise<void> {
  const now = Date.now();
  const idle = Math.min(now + policy.session.idleTimeoutSeconds * 1000, session.absoluteExpiresAt.getTime());
  await SessionRow.query(trx)
    .patch({ lastSeenAt: new Date(now), idleExpiresAt: new Date(idle) })
    .where({ id: session.id })
    .where('lastSeenAt', '<=', new Date(now - touchInterval(session)));
}

/**
 * A tightened session policy reaches the sessions already open at once: no idle deadline stays
 * later than now plus the new timeout, no absolute one later than creation plus the new lifetime.
 * (Not "last use plus the new timeout": last use is written at most once a minute, so that ended
 * sessions in use. A looser policy applies from each session's next extension.)
 */
export async function tightenSessions(trx: TenantTransaction, policy: PasswordPolicy): Promise<number> {
  return SessionRow.query(trx)
    .patch({
      idleExpiresAt: trx.raw('least(idle_expires_at, now() + make_interval(secs => ?))', [policy.session.idleTimeoutSeconds]) as never,
      absoluteExpiresAt: trx.raw('least(absolute_expires_at, created_at + make_interval(secs => ?))', [policy.session.absoluteLifetimeSeconds]) as never,
    })
    .whereNull('revokedAt')
    .where('absoluteExpiresAt', '>', trx.fn.now() as never)
    .where((q) =>
      q
        .where('idleExpiresAt', '>', trx.raw('now() + make_interval(secs => ?)', [policy.session.idleTimeoutSeconds]) as never)
        .orWhere('absoluteExpiresAt', '>', trx.raw('created_at + make_interval(secs => ?)', [policy.session.absoluteLifetimeSeconds]) as never),
    );
}

/**
 * Ends the open sessions of the accounts a stricter two-step rule now covers (`admins`: accounts
 * with the admin role; `others`: those without it), except `keepSessionId` and the sessions that
 * presented a passkey still registered: they satisfy the new rule. A session whose passkey was
 * removed since has nothing to show for it (another passkey of the account never vouched for it)
 * and ends too.
 */
export async function endSessionsOf(trx: TenantTransaction, who: 'everyone' | 'admins' | 'others', keepSessionId: string): Promise<number> {
  const { rowCount } = await trx.raw(
    `update sessions s set revoked_at = now()
       from accounts a
      where s.tenant_id = ?::uuid and a.id = s.account_id and a.tenant_id = s.tenant_id and s.revoked_at is null and s.id <> ?::uuid
        and s.absolute_expires_at > now()
        and (? = 'everyone' or ('admin' = any(a.roles)) = (? = 'admins'))
        and s.second_factor_credential_id is null`,
    [tenantIdOf(trx)!, keepSessionId, who, who],
  );
  return rowCount ?? 0;
}

export const setSessionState = (trx: TenantTransaction, sessionId: string, state: SessionState) =>
  SessionRow.query(trx).patch({ state }).where({ id: sessionId });

export const revokeSession = (trx: TenantTransaction, sessionId: string) =>
  SessionRow.query(trx).patch({ revokedAt: trx.fn.now() as never }).where({ id: sessionId }).whereNull('revokedAt');

/**
 * Revokes every live session of the account except `keepSessionId`, and answers how many: the
 * count goes into log entries as the sessions a change ended, and an expired session was not
 * ended by it (nor does it need revoking: it can no longer be used).
 */
export function revokeAccountSessions(trx: TenantTransaction, accountId: string, keepSessionId?: string) {
  const q = SessionRow.query(trx).patch({ revokedAt: trx.fn.now() as never }).where({ accountId }).whereRaw(LIVE);
  if (keepSessionId) q.whereNot({ id: keepSessionId });
  return q;
}

/**
 * The session proved a password (`by: 'password'`) or the passkey with this id just now (database
 * time); a passkey also counts as its second factor.
 */
export const markSessionVerified = (trx: TenantTransaction, sessionId: string, by: 'password' | { passkey: string }) =>
  SessionRow.query(trx)
    .patch({ verifiedAt: trx.fn.now() as never, ...(by === 'password' ? {} : { secondFactorAt: trx.fn.now() as never, secondFactorCredentialId: by.passkey }) })
    .where({ id: sessionId });

/**
 * Ends the account's sessions that did not present a passkey still registered: the account has
 * just come under the two-step rule (it became an admin while the rule covers admins), as
 * endSessionsOf does for everyone a stricter rule covers.
 */
export async function endPasswordOnlySessions(trx: TenantTransaction, accountId: string): Promise<number> {
  return revokeAccountSessions(trx, accountId).whereNull('secondFactorCredentialId');
}

/** Whether the session presented a passkey that is still registered (the second step of sign-in, enrolment, re-authentication). */
export async function presentedPasskey(trx: TenantTransaction, sessionId: string): Promise<boolean> {
  const row = await SessionRow.query(trx).findById(sessionId).select('secondFactorCredentialId');
  return Boolean(row?.secondFactorCredentialId);
}

/** When the session last proved a password or a passkey, and the database's now (so no two clocks are compared). */
export async function sessionVerification(trx: TenantTransaction, sessionId: string): Promise<{ verifiedAt: Date; now: Date } | undefined> {
  const row = (await SessionRow.query(trx).findById(sessionId).select('verifiedAt', trx.raw('now() as now'))) as unknown as { verifiedAt: Date; now: Date } | undefined;
  return row;
}

/** A live session as its account (or the clinic's admin) sees it: where and since when, never its token. */
export interface LiveSession {
  id: string;
  state: SessionState;
  clientIp: string | null;
  userAgent: string | null;
  createdAt: Date;
  lastSeenAt: Date;
  /** The earlier of its idle and absolute deadlines, as stored (the idle one moves on use). */
  expiresAt: Date;
  /** It presented a passkey that is still registered (second step passed, or enrolment finished). */
  passkeyVerified: boolean;
  /** It began as a sign-in from a device or network the account had not used lately. */
  newDevice: boolean;
}

/** The account's live sessions (at most MAX_LIVE_SESSIONS_PER_ACCOUNT), most recently used first. */
export async function liveSessionsOf(trx: TenantTransaction, accountId: string): Promise<LiveSession[]> {
  if (!isUuid(accountId)) return [];
  const { rows } = await trx.raw(
    `select id, state, host(client_ip) as client_ip, user_agent, created_at, last_seen_at,
            least(idle_expires_at, absolute_expires_at) as expires_at,
            second_factor_credential_id is not null as passkey_verified, new_device
       from sessions
      where account_id = ?::uuid and ${LIVE}
      order by last_seen_at desc, created_at desc, id`,
    [accountId],
  );
  return (rows as Array<Record<string, unknown>>).map((r) => ({
    id: r.id as string,
    state: r.state as SessionState,
    clientIp: (r.client_ip as string | null) ?? null,
    userAgent: (r.user_agent as string | null) ?? null,
    createdAt: r.created_at as Date,
    lastSeenAt: r.last_seen_at as Date,
    expiresAt: r.expires_at as Date,
    passkeyVerified: r.passkey_verified as boolean,
    newDevice: r.new_device as boolean,
  }));
}

/**
 * Ends one live session of the account: true if it was live. A session of another account (or
 * clinic) is as absent as one that never existed.
 */
export async function endLiveSession(trx: TenantTransaction, accountId: string, sessionId: string): Promise<boolean> {
  if (!isUuid(sessionId)) return false;
  const { rowCount } = await trx.raw(
    `update sessions set revoked_at = now()
      where id = ?::uuid and account_id = ?::uuid and ${LIVE}`,
    [sessionId, accountId],
  );
  return (rowCount ?? 0) > 0;
}

/** Ends every live session of the account but `keepSessionId`; how many ended (expired ones are not counted). */
export async function endLiveSessionsOf(trx: TenantTransaction, accountId: string, keepSessionId?: string): Promise<number> {
  const { rowCount } = await trx.raw(
    `update sessions set revoked_at = now()
      where account_id = ?::uuid and ${LIVE}
        and id is distinct from ?::uuid`,
    [accountId, keepSessionId ?? null],
  );
  return rowCount ?? 0;
}

/**
 * How many of an account's latest sessions a login compares itself with: every login reads them,
 * and an account signed in by a script all day would keep thousands for 30 days. (At the bench's
 * ~150 sessions an account, logins ran as fast with the bound as without: 56–61 and 60–61 a
 * second, against 57–63 before sign-in notices.)
 */
export const SIGN_IN_HISTORY_SESSIONS = 200;

/**
 * The user agents the account signed in with from this network (an IPv4 /24, an IPv6 /48:
 * domain/sign-in-device.ts), among its latest SIGN_IN_HISTORY_SESSIONS sessions kept: live ones,
 * and ended ones until maintenance prunes them (SESSION_KEEP_DAYS after their end). Asked before
 * the new session is made.
 */
export async function userAgentsFromNetwork(trx: TenantTransaction, accountId: string, clientIp: string | null): Promise<Array<string | null>> {
  const prefix = clientIp?.includes(':') ? SIGN_IN_NETWORK_PREFIX.v6 : SIGN_IN_NETWORK_PREFIX.v4;
  const { rows } = await trx.raw(
    `select distinct user_agent
       from (select client_ip, user_agent from sessions where account_id = ?::uuid order by created_at desc limit ${SIGN_IN_HISTORY_SESSIONS}) recent
      where case when ?::inet is null then client_ip is null
                 else inet_same_family(client_ip, ?::inet) and network(set_masklen(client_ip, ?)) = network(set_masklen(?::inet, ?)) end`,
    [accountId, clientIp, clientIp, prefix, clientIp, prefix],
  );
  return (rows as Array<{ user_agent: string | null }>).map((r) => r.user_agent);
}

/** Sessions of the account that began as sign-ins from somewhere new in the last day (database time). */
export async function newDeviceSignInsToday(trx: TenantTransaction, accountId: string): Promise<number> {
  const { rows } = await trx.raw(
    `select count(*)::int as n from sessions where account_id = ?::uuid and new_device and created_at > now() - interval '1 day'`,
    [accountId],
  );
  return (rows as Array<{ n: number }>)[0]!.n;
}

/**
 * The account's latest session (its previous sign-in), if one is kept: asked before a new one is
 * made, or with the session of the sign-in in progress left out (`except`: its password step, at
 * the passkey step).
 */
export async function latestSignIn(trx: TenantTransaction, accountId: string, except?: string): Promise<{ createdAt: Date; clientIp: string | null } | undefined> {
  const { rows } = await trx.raw(
    `select created_at, host(client_ip) as client_ip from sessions where account_id = ?::uuid and id is distinct from ?::uuid order by created_at desc limit 1`,
    [accountId, except ?? null],
  );
  const r = (rows as Array<{ created_at: Date; client_ip: string | null }>)[0];
  return r && { createdAt: r.created_at, clientIp: r.client_ip };
}

/** Ends every live session of the clinic (the transaction's); how many ended. */
export async function endClinicSessions(trx: TenantTransaction): Promise<number> {
  const { rowCount } = await trx.raw(
    `update sessions set revoked_at = now()
      where tenant_id = ?::uuid and ${LIVE}`,
    [tenantIdOf(trx)!],
  );
  return rowCount ?? 0;
}
