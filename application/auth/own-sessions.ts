import { recordAudit } from '../../db/audit';
import { endLiveSession, endLiveSessionsOf, liveSessionsOf, type LiveSession } from '../../db/sessions';
import { withTenant } from '../../db/tenant-scope';
import { notFound } from '../../domain/problems';
import type { Services, SessionActor } from '../deps';

/**
 * Where one is signed in (ログイン中の端末): the account's live sessions, so that a user who sees a
 * device or a network they do not know ends it, or every session but this one, without an admin.
 * Ending sessions only takes access away: it needs no fresh proof, and stays open after the
 * contract's end (api/routes/sessions.ts).
 */
export interface SessionView {
  id: string;
  /** The session this request came with. */
  current: boolean;
  state: LiveSession['state'];
  clientIp: string | null;
  userAgent: string | null;
  createdAt: string;
  /** Kept to the minute: a session's use is written at most once a minute. */
  lastSeenAt: string;
  expiresAt: string;
  passkeyVerified: boolean;
  newDevice: boolean;
}

export const sessionView = (s: LiveSession, currentSessionId?: string): SessionView => ({
  id: s.id,
  current: s.id === currentSessionId,
  state: s.state,
  clientIp: s.clientIp,
  userAgent: s.userAgent,
  createdAt: s.createdAt.toISOString(),
  lastSeenAt: s.lastSeenAt.toISOString(),
  expiresAt: s.expiresAt.toISOString(),
  passkeyVerified: s.passkeyVerified,
  newDevice: s.newDevice,
});

type Deps = Pick<Services, 'db'>;

export async function listOwnSessions(deps: Deps, actor: SessionActor): Promise<{ items: SessionView[] }> {
  const sessions = await withTenant(deps.db, actor.tenantId, (trx) => liveSessionsOf(trx, actor.accountId));
  return { items: sessions.map((s) => sessionView(s, actor.sessionId)) };
}

/** Ends one of the caller's live sessions (this one too: then it is a logout). Another account's is 404. */
export async function endOwnSession(deps: Deps, actor: SessionActor, sessionId: string): Promise<void> {
  await withTenant(deps.db, actor.tenantId, async (trx) => {
    if (!(await endLiveSession(trx, actor.accountId, sessionId))) throw notFound('No such session of yours is live.');
    await recordAudit(trx, actor.audit, { action: 'session.end', outcome: 'success', targetType: 'session', targetId: sessionId, details: { current: sessionId === actor.sessionId } });
  });
}

/** Ends every live session of the caller's account but this one ("sign out everywhere else"). */
export async function endOtherOwnSessions(deps: Deps, actor: SessionActor): Promise<{ ended: number }> {
  return withTenant(deps.db, actor.tenantId, async (trx) => {
    const ended = await endLiveSessionsOf(trx, actor.accountId, actor.sessionId);
    await recordAudit(trx, actor.audit, { action: 'session.end_others', outcome: 'success', targetType: 'account', targetId: actor.accountId, details: { sessionsEnded: ended } });
    return { ended };
  });
}
