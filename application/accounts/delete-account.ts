import { deleteAccount as removeAccount } from '../../db/accounts';
import { recordAudit } from '../../db/audit';
import { withTenant } from '../../db/tenant-scope';
import type { ClinicActor, Services } from '../deps';

/** An admin deletes an account: its sessions, passkeys and group memberships go with it; never the last admin. */
export async function deleteAccount(deps: Pick<Services, 'db'>, actor: ClinicActor, id: string): Promise<void> {
  await withTenant(deps.db, actor.tenantId, async (trx) => {
    await removeAccount(trx, id);
    await recordAudit(trx, actor.audit, { action: 'account.delete', outcome: 'success', targetType: 'account', targetId: id });
  });
}
