import { unlockAccount as liftLockout } from '../../db/accounts';
import { recordAudit } from '../../db/audit';
import { withTenant } from '../../db/tenant-scope';
import { withRefusalsLogged } from '../audit/refusals';
import { requireRecentProof } from '../auth/reauthenticate';
import type { Services, SessionActor } from '../deps';

/**
 * An admin lifts a lockout after failed logins. The lockout is what stops password guessing at the
 * account, so lifting it needs a password or passkey proved in the last 5 minutes (403
 * reauthentication_required, logged as denied): a session left open must not be able to unlock
 * an account again and again while someone guesses its password.
 */
export async function unlockAccount(deps: Pick<Services, 'db' | 'log'>, actor: SessionActor, id: string): Promise<void> {
  const attempt = { action: 'account.unlock', targetType: 'account', targetId: id };
  await withRefusalsLogged(deps, actor.tenantId, actor.audit, attempt, () =>
    withTenant(deps.db, actor.tenantId, async (trx) => {
      await requireRecentProof(trx, actor);
      await liftLockout(trx, id);
      await recordAudit(trx, actor.audit, { action: 'account.unlock', outcome: 'success', targetType: 'account', targetId: id });
    }),
  );
}
