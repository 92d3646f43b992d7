import { getAccount } from '../../db/accounts';
import { recordAudit } from '../../db/audit';
import { endLiveSessionsOf, liveSessionsOf } from '../../db/sessions';
import { withTenant } from '../../db/tenant-scope';
import { sessionView, type SessionView } from '../auth/own-sessions';
import type { Services, SessionActor } from '../deps';

/**
 * An admin sees where an account of the clinic is signed in and signs it out everywhere: a lost
 * or shared device, someone leaving, a password that may be known. Unlike disabling, the account
 * keeps working: its holder signs in again. Reading another person's addresses and devices is
 * logged (`account.sessions_read`), as every read of personal data is; ending them names the admin.
 */
type Deps = Pick<Services, 'db' | 'readLog'>;

export async function listAccountSessions(deps: Deps, actor: SessionActor, accountId: string): Promise<{ items: SessionView[] }> {
  const sessions = await deps.readLog.read(
    actor.tenantId,
    actor.audit,
    async (trx) => {
      await getAccount(trx, accountId);
      return liveSessionsOf(trx, accountId);
    },
    () => ({ action: 'account.sessions_read', outcome: 'success', targetType: 'account', targetId: accountId }),
  );
  return { items: sessions.map((s) => sessionView(s, actor.sessionId)) };
}

/** Ends every live session of the account (an admin's own: all but the one asking). */
export async function endAccountSessions(deps: Pick<Services, 'db'>, actor: SessionActor, accountId: string): Promise<{ ended: number }> {
  return withTenant(deps.db, actor.tenantId, async (trx) => {
    const account = await getAccount(trx, accountId);
    const ended = await endLiveSessionsOf(trx, account.id, actor.sessionId);
    await recordAudit(trx, actor.audit, { action: 'account.sessions_end', outcome: 'success', targetType: 'account', targetId: account.id, details: { sessionsEnded: ended } });
    return { ended };
  });
}
