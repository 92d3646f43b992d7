import { getAccount, toView, updateAccount as patchAccount, type AccountView } from '../../db/accounts';
import { recordAudit } from '../../db/audit';
import { withTenant } from '../../db/tenant-scope';
import type { UpdateAccountInput } from '../../domain/account';
import { withRefusalsLogged } from '../audit/refusals';
import { unlinkFormerDoctor } from '../practitioners/unlink-former-doctor';
import type { ClinicActor, Services } from '../deps';

/**
 * An admin changes roles, display name, e-mail or disabled. The last active admin cannot be
 * demoted or disabled (409 last_admin, logged as denied); disabling ends the account's sessions.
 * Removing the doctor role unlinks the account from the doctors it was the account of.
 */
export async function updateAccount(deps: Pick<Services, 'db' | 'log'>, actor: ClinicActor, id: string, patch: UpdateAccountInput): Promise<AccountView> {
  const attempt = { action: patch.roles ? 'account.roles_change' : 'account.update', targetType: 'account', targetId: id, details: { fields: Object.keys(patch) } };
  return withRefusalsLogged(deps, actor.tenantId, actor.audit, attempt, () => withTenant(deps.db, actor.tenantId, async (trx) => {
    const before = await getAccount(trx, id);
    const updated = await patchAccount(trx, id, patch);
    const practitionersUnlinked = before.roles.includes('doctor') && patch.roles && !patch.roles.includes('doctor') ? await unlinkFormerDoctor(trx, actor.audit, updated.id, 'doctor_role_removed') : [];
    await recordAudit(trx, actor.audit, {
      action: patch.roles ? 'account.roles_change' : 'account.update',
      outcome: 'success',
      targetType: 'account',
      targetId: id,
      details: {
        fields: Object.keys(patch),
        ...(patch.roles ? { from: before.roles, to: patch.roles } : {}),
        ...(patch.disabled !== undefined ? { disabled: patch.disabled } : {}),
        ...(practitionersUnlinked.length ? { practitionersUnlinked } : {}),
      },
    });
    return toView(trx, updated);
  }));
}
