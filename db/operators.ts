import { randomBytes } from 'node:crypto';
import type { OperatorRole } from '../domain/operator-roles';
import type { OperatorSessionTiming, OperatorState } from '../domain/operators';
import type { SessionState } from '../domain/sign-in';
import type { Db } from './connection';
import type { PlatformTransaction } from './platform-scope';
import { hashToken } from './sessions';

/**
 * Operators' accounts, sessions, passkeys and API keys (migration 20270101000003_operators), in
 * a withPlatform() transaction. Session tokens and API keys are random and stored only as their
 * SHA-256; their prefixes tell them apart, and let secret scanners recognise a leaked key.
 */
export const OPERATOR_SESSION_PREFIX = 'fcos_';
export const API_KEY_PREFIX = 'fcop_';

const randomToken = (prefix: string) => prefix + randomBytes(32).toString('base64url');

export interface OperatorRow {
  id: string;
  email: string;
  name: string;
  roles: OperatorRole[];
  state: OperatorState;
  passwordHash: string;
  passwordIsInitial: boolean;
  initialPasswordExpiresAt: Date | null;
  passwordChangedAt: Date;
  lockedUntil: Date | null;
  lockouts: number;
  lockoutNotified: number;
  lastLoginAt: Date | null;
  createdBy: string;
  /** The current initial password came from someone holding security, break-glass or the host. */
  credentialsIssuedByWatcher: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export async function insertOperator(
  trx: PlatformTransaction,
  o: { email: string; name: string; roles: OperatorRole[]; passwordHash: string; initialPasswordExpiresAt: Date; createdBy: string; credentialsIssuedByWatcher: boolean },
): Promise<OperatorRow> {
  const [row] = await trx('operators').insert(o).returning('*');
  return row;
}

/** Who issued the operator's current initial password: someone holding security (or break-glass, the host), or not. */
export async function markCredentialsIssuer(trx: PlatformTransaction, id: string, byWatcher: boolean): Promise<void> {
  await trx('operators').where({ id }).update({ credentialsIssuedByWatcher: byWatcher });
}

export async function findOperator(trx: PlatformTransaction, id: string, opts: { forUpdate?: boolean } = {}): Promise<OperatorRow | undefined> {
  const q = trx('operators').where({ id }).first();
  if (opts.forUpdate) q.forUpdate();
  return q;
}

export const findOperatorByEmail = (trx: PlatformTransaction, email: string): Promise<OperatorRow | undefined> =>
  trx('operators').whereRaw('lower(email) = lower(?)', [email]).first();

export const listOperators = (trx: PlatformTransaction): Promise<OperatorRow[]> => trx('operators').orderBy('createdAt');

/**
 * Locks every active platform admin's row and the row about to change, in id order in one
 * statement, until commit: two admins taking the role from each other at the same moment then
 * change one after the other, and the second sees that the first left it the last one (409
 * last_platform_admin), instead of both passing the check. The changed row is locked in the same
 * order, not after: a row another change had locked as an admin (and still holds) would
 * otherwise be waited for out of order, a deadlock.
 */
export async function lockPlatformAdmins(trx: PlatformTransaction, alsoId: string): Promise<void> {
  await trx('operators')
    .where((q) => q.where({ state: 'active' }).whereRaw(`'platform-admin' = any(roles)`))
    .orWhere({ id: alsoId })
    .orderBy('id')
    .forUpdate()
    .select('id');
}

export async function updateOperator(trx: PlatformTransaction, id: string, patch: { roles?: OperatorRole[]; state?: OperatorState; name?: string }): Promise<OperatorRow> {
  const [row] = await trx('operators').where({ id }).update({ ...patch, updatedAt: trx.fn.now() }).returning('*');
  return row;
}

/** A new password: `initial` (set by someone else, to be replaced at the next login) or the operator's own. */
export async function setOperatorPassword(trx: PlatformTransaction, id: string, passwordHash: string, initial: { expiresAt: Date } | undefined): Promise<void> {
  await trx('operators')
    .where({ id })
    .update({
      passwordHash,
      passwordIsInitial: Boolean(initial),
      initialPasswordExpiresAt: initial?.expiresAt ?? null,
      passwordChangedAt: trx.fn.now(),
      failedLoginCount: 0,
      lockedUntil: null,
      updatedAt: trx.fn.now(),
    });
}

export async function recordOperatorLogin(trx: PlatformTransaction, id: string): Promise<void> {
  await trx('operators').where({ id }).update({ lastLoginAt: trx.fn.now(), failedLoginCount: 0, lastFailedLoginAt: null });
}

// --- sessions -----------------------------------------------------------------------------------

export interface OperatorSessionRow {
  id: string;
  operatorId: string;
  state: SessionState;
  lastSeenAt: Date;
  verifiedAt: Date;
  idleExpiresAt: Date;
  absoluteExpiresAt: Date;
}

export async function createOperatorSession(
  trx: PlatformTransaction,
  s: { operatorId: string; state: SessionState; timing: OperatorSessionTiming; clientIp: string | null; userAgent: string | null | undefined },
): Promise<{ token: string; session: OperatorSessionRow }> {
  const token = randomToken(OPERATOR_SESSION_PREFIX);
  const now = Date.now();
  const [session] = await trx('operator_sessions')
    .insert({
      operatorId: s.operatorId,
      tokenHash: hashToken(token),
      state: s.state,
      clientIp: s.clientIp,
      userAgent: s.userAgent?.slice(0, 512) ?? null,
      idleExpiresAt: new Date(now + Math.min(s.timing.idleSeconds, s.timing.maxSeconds) * 1000),
      absoluteExpiresAt: new Date(now + s.timing.maxSeconds * 1000),
    })
    .returning('*');
  return { token, session };
}

export interface LiveOperatorSession {
  session: Pick<OperatorSessionRow, 'id' | 'state' | 'verifiedAt'>;
  operator: Pick<OperatorRow, 'id' | 'name' | 'roles'>;
}

/**
 * The live session a token names (not revoked, idle or too old, of an active operator), in one
 * round trip on the pool (operator_session_auth), which also extends its idle deadline.
 */
export async function liveOperatorSession(db: Db, token: string, timing: OperatorSessionTiming): Promise<LiveOperatorSession | undefined> {
  const { rows } = await db.raw('select * from operator_session_auth(?::bytea, ?::integer)', [hashToken(token), timing.idleSeconds]);
  const r = rows[0] as { session_id: string; state: SessionState; verified_at: Date; operator_id: string; name: string; roles: OperatorRole[] } | undefined;
  return r && { session: { id: r.session_id, state: r.state, verifiedAt: r.verified_at }, operator: { id: r.operator_id, name: r.name, roles: r.roles } };
}

/** The session proved a password or a passkey just now, and moves on to `state`. */
export async function markOperatorSessionVerified(trx: PlatformTransaction, id: string, state: SessionState): Promise<void> {
  await trx('operator_sessions').where({ id }).update({ state, verifiedAt: trx.fn.now() });
}

export async function revokeOperatorSession(trx: PlatformTransaction, id: string): Promise<void> {
  await trx('operator_sessions').where({ id }).whereNull('revokedAt').update({ revokedAt: trx.fn.now() });
}

/** Ends every session of the operator but `keep` (password changed, disabled, reset). */
export async function revokeOperatorSessions(trx: PlatformTransaction, operatorId: string, keep?: string): Promise<void> {
  const q = trx('operator_sessions').where({ operatorId }).whereNull('revokedAt');
  if (keep) q.whereNot({ id: keep });
  await q.update({ revokedAt: trx.fn.now() });
}

// --- passkeys -----------------------------------------------------------------------------------

export interface OperatorPasskeyRow {
  id: string;
  operatorId: string;
  credentialId: string;
  publicKey: Buffer;
  counter: string | number;
  transports: string[];
  deviceType: string;
  backedUp: boolean;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export const listOperatorPasskeys = (trx: PlatformTransaction, operatorId: string): Promise<OperatorPasskeyRow[]> =>
  trx('operator_passkeys').where({ operatorId }).orderBy('createdAt');

/** Passkeys per operator, in one query (an operator without any is absent). */
export async function operatorPasskeyCounts(trx: PlatformTransaction, operatorIds: readonly string[]): Promise<Map<string, number>> {
  if (operatorIds.length === 0) return new Map();
  const rows: Array<{ operatorId: string; n: string }> = await trx('operator_passkeys').select('operatorId').count('* as n').whereIn('operatorId', operatorIds).groupBy('operatorId');
  return new Map(rows.map((r) => [r.operatorId, Number(r.n)]));
}

export async function findOperatorPasskey(trx: PlatformTransaction, credentialId: string, operatorId?: string): Promise<OperatorPasskeyRow | undefined> {
  return trx('operator_passkeys')
    .where({ credentialId, ...(operatorId ? { operatorId } : {}) })
    .forUpdate()
    .first();
}

export async function insertOperatorPasskey(
  trx: PlatformTransaction,
  p: Omit<OperatorPasskeyRow, 'id' | 'createdAt' | 'lastUsedAt'>,
): Promise<OperatorPasskeyRow> {
  const [row] = await trx('operator_passkeys').insert(p).returning('*');
  return row;
}

export async function recordOperatorPasskeyUse(trx: PlatformTransaction, id: string, counter: number): Promise<void> {
  await trx('operator_passkeys').where({ id }).update({ counter, lastUsedAt: trx.fn.now() });
}

/** A reset takes the operator's passkeys too: the next login enrols a new one. */
export async function deleteOperatorPasskeys(trx: PlatformTransaction, operatorId: string): Promise<number> {
  return trx('operator_passkeys').where({ operatorId }).delete();
}

export async function storeOperatorChallenge(trx: PlatformTransaction, sessionId: string, purpose: 'registration' | 'authentication', challenge: string, expiresAt: Date): Promise<void> {
  await trx.raw(
    `insert into operator_webauthn_challenges (session_id, purpose, challenge, expires_at) values (?, ?, ?, ?)
     on conflict (session_id, purpose) do update set challenge = excluded.challenge, expires_at = excluded.expires_at`,
    [sessionId, purpose, challenge, expiresAt],
  );
}

/** Deletes the session's fresh challenge for this purpose; false if there was none. */
export async function consumeOperatorChallenge(trx: PlatformTransaction, sessionId: string, purpose: 'registration' | 'authentication', challenge: string): Promise<boolean> {
  return (await trx('operator_webauthn_challenges').where({ sessionId, purpose, challenge }).where('expiresAt', '>', trx.raw('now()')).delete()) > 0;
}

// --- API keys -----------------------------------------------------------------------------------

export interface ApiKeyRow {
  id: string;
  name: string;
  roles: OperatorRole[];
  hint: string;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  revokedBy: string | null;
  lastUsedAt: Date | null;
  lastUsedIp: string | null;
}

const API_KEY_COLUMNS = ['id', 'name', 'roles', 'hint', 'createdBy', 'createdAt', 'expiresAt', 'revokedAt', 'revokedBy', 'lastUsedAt', 'lastUsedIp'];

export async function insertApiKey(
  trx: PlatformTransaction,
  k: { name: string; roles: OperatorRole[]; expiresAt: Date; createdBy: string },
): Promise<{ key: string; row: ApiKeyRow }> {
  const key = randomToken(API_KEY_PREFIX);
  const [row] = await trx('operator_api_keys')
    .insert({ ...k, tokenHash: hashToken(key), hint: key.slice(0, API_KEY_PREFIX.length + 6) })
    .returning(API_KEY_COLUMNS);
  return { key, row };
}

export const listApiKeys = (trx: PlatformTransaction): Promise<ApiKeyRow[]> => trx('operator_api_keys').select(API_KEY_COLUMNS).orderBy('createdAt', 'desc');

export const findApiKey = (trx: PlatformTransaction, id: string): Promise<ApiKeyRow | undefined> =>
  trx('operator_api_keys').select(API_KEY_COLUMNS).where({ id }).forUpdate().first();

/** The live key (not revoked, not expired) a secret names, in one round trip (operator_key_auth), which records its use. */
export async function liveApiKey(db: Db, key: string, clientIp: string): Promise<Pick<ApiKeyRow, 'id' | 'name' | 'roles'> | undefined> {
  const { rows } = await db.raw('select * from operator_key_auth(?::bytea, ?)', [hashToken(key), clientIp]);
  return rows[0];
}

export async function revokeApiKey(trx: PlatformTransaction, id: string, by: string): Promise<void> {
  await trx('operator_api_keys').where({ id }).whereNull('revokedAt').update({ revokedAt: trx.fn.now(), revokedBy: by });
}

// --- break-glass ----------------------------------------------------------------------------------

/**
 * One more use of the break-glass token in its alert window, in one statement. The window's id
 * when this use opened it (the one whose alert mail must go out), else undefined.
 */
export async function countBreakGlassUse(trx: PlatformTransaction, windowStart: Date, clientIp: string, route: string): Promise<string | undefined> {
  const { rows } = await trx.raw(
    `insert into break_glass_uses as b (window_start, uses, first_ip, routes) values (?, 1, ?, array[?]::text[])
     on conflict (window_start) do update set
       uses = b.uses + 1,
       last_at = now(),
       routes = case when ? = any(b.routes) or cardinality(b.routes) >= 10 then b.routes else b.routes || ?::text end
     returning id, uses`,
    [windowStart, clientIp, route, route, route],
  );
  return rows[0].uses === 1 ? rows[0].id : undefined;
}

export interface BreakGlassWindowRow {
  id: string;
  windowStart: Date;
  uses: number;
  firstAt: Date;
  lastAt: Date;
  firstIp: string | null;
  routes: string[];
  mailedAt: Date | null;
}

export const findBreakGlassWindow = (trx: PlatformTransaction, windowStart: Date): Promise<BreakGlassWindowRow | undefined> =>
  trx('break_glass_uses').where({ windowStart }).first();

export async function markBreakGlassMailed(trx: PlatformTransaction, windowStart: Date): Promise<void> {
  await trx('break_glass_uses').where({ windowStart }).update({ mailedAt: trx.fn.now() });
}

export async function markLockoutNotified(trx: PlatformTransaction, id: string, lockout: number): Promise<void> {
  await trx('operators').where({ id }).where('lockoutNotified', '<', lockout).update({ lockoutNotified: lockout });
}
