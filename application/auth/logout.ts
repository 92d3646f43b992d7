import { recordAudit } from '../../db/audit';
import { revokeSession } from '../../db/sessions';
import { withTenant } from '../../db/tenant-scope';
import type { Services, SessionActor } from '../deps';

/** Ends the caller's session. */
export async function logout(deps: Pick<Services, 'db'>, actor: SessionActor): Promise<void> {
  await withTenant(deps.db, actor.tenantId, async (trx) => {
    await revokeSession(trx, actor.sessionId);
    await recordAudit(trx, actor.audit, { action: 'logout', outcome: 'success', targetType: 'account', targetId: actor.accountId });
  });
}
