import { deleteAccount as removeAccount } from '../../db/accounts';
import { recordAudit } from '../../db/audit';
import { withTenant } from '../../db/tenant-scope';
import { withRefusalsLogged } from '../audit/refusals';
import { unlinkFormerDoctor } from '../practitioners/unlink-former-doctor';
import type { ClinicActor, Services } from '../deps';

/**
 * An admin deletes an account: its sessions, passkeys and group memberships go with it, and its
 * link to a doctor's schedule; never the last admin (a refusal is logged).
 */
export async function deleteAccount(deps: Pick<Services, 'db' | 'log'>, actor: ClinicActor, id: string): Promise<void> {
  const attempt = { action: 'account.delete', targetType: 'account', targetId: id };
  await withRefusalsLogged(deps, actor.tenantId, actor.audit, attempt, () =>
    withTenant(deps.db, actor.tenantId, async (trx) => {
      await removeAccount(trx, id);
      const practitionersUnlinked = await unlinkFormerDoctor(trx, actor.audit, id, 'account_deleted');
      await recordAudit(trx, actor.audit, { ...attempt, outcome: 'success', ...(practitionersUnlinked.length ? { details: { practitionersUnlinked } } : {}) });
    }),
  );
}
