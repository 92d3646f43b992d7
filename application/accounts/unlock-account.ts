import { unlockAccount as liftLockout } from '../../db/accounts';
import { recordAudit } from '../../db/audit';
import { withTenant } from '../../db/tenant-scope';
import type { ClinicActor, Services } from '../deps';

/** An admin lifts a lockout after failed logins. */
export async function unlockAccount(deps: Pick<Services, 'db'>, actor: ClinicActor, id: string): Promise<void> {
  await withTenant(deps.db, actor.tenantId, async (trx) => {
    await liftLockout(trx, id);
    await recordAudit(trx, actor.audit, { action: 'account.unlock', outcome: 'success', targetType: 'account', targetId: id });
  });
}
