import { createHash, randomBytes } from 'node:crypto';
import type { PasswordPolicy } from '../domain/password-policy';
import { SessionRow, type SessionState } from './models/session';
import type { TenantTransaction } from './tenant-scope';

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

export async function createSession(
  trx: TenantTransaction,
  args: { tenantId: string; accountId: string; state: SessionState; policy: PasswordPolicy; clientIp: string | null; userAgent: string | undefined | null },
): Promise<{ token: string; session: SessionRow }> {
  const token = newToken(args.tenantId);
  const now = Date.now();
  const session = await SessionRow.query(trx).insertAndFetch({
    accountId: args.accountId,
    tokenHash: hashToken(token),
    state: args.state,
    clientIp: args.clientIp,
    userAgent: args.userAgent?.slice(0, 512) ?? null,
    idleExpiresAt: new Date(now + args.policy.session.idleTimeoutSeconds * 1000),
    absoluteExpiresAt: new Date(now + args.policy.session.absoluteLifetimeSeconds * 1000),
  });
  return { token, session };
}

/** A live session for the token, or undefined (unknown, revoked, idle too long, too old). */
export async function findLiveSession(trx: TenantTransaction, token: string): Promise<SessionRow | undefined> {
  const session = await SessionRow.query(trx).findOne({ tokenHash: hashToken(token) });
  if (!session || session.revokedAt) return undefined;
  const now = Date.now();
  if (session.idleExpiresAt.getTime() <= now || session.absoluteExpiresAt.getTime() <= now) return undefined;
  return session;
}

/** Extends the idle deadline; written at most once a minute per session to spare the database. */
export async function touchSession(trx: TenantTransaction, session: SessionRow, policy: PasswordPolicy): Promise<void> {
  const now = Date.now();
  if (now - session.lastSeenAt.getTime() < 60_000) return;
  const idle = Math.min(now + policy.session.idleTimeoutSeconds * 1000, session.absoluteExpiresAt.getTime());
  await SessionRow.query(trx).patch({ lastSeenAt: new Date(now), idleExpiresAt: new Date(idle) }).where({ id: session.id });
}

export const setSessionState = (trx: TenantTransaction, sessionId: string, state: SessionState) =>
  SessionRow.query(trx).patch({ state }).where({ id: sessionId });

export const revokeSession = (trx: TenantTransaction, sessionId: string) =>
  SessionRow.query(trx).patch({ revokedAt: trx.fn.now() as never }).where({ id: sessionId }).whereNull('revokedAt');

/** Revokes every session of the account except `keepSessionId`. */
export function revokeAccountSessions(trx: TenantTransaction, accountId: string, keepSessionId?: string) {
  const q = SessionRow.query(trx).patch({ revokedAt: trx.fn.now() as never }).where({ accountId }).whereNull('revokedAt');
  if (keepSessionId) q.whereNot({ id: keepSessionId });
  return q;
}

/** The session proved a password or a passkey just now (database time). */
export const markSessionVerified = (trx: TenantTransaction, sessionId: string) =>
  SessionRow.query(trx).patch({ verifiedAt: trx.fn.now() as never }).where({ id: sessionId });

/** When the session last proved a password or a passkey, and the database's now (so no two clocks are compared). */
export async function sessionVerification(trx: TenantTransaction, sessionId: string): Promise<{ verifiedAt: Date; now: Date } | undefined> {
  const row = (await SessionRow.query(trx).findById(sessionId).select('verifiedAt', trx.raw('now() as now'))) as unknown as { verifiedAt: Date; now: Date } | undefined;
  return row;
}
