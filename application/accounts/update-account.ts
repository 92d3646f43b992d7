import { lockAccountForChange, toView, updateAccount as patchAccount, type AccountView } from '../../db/accounts';
import { recordAudit } from '../../db/audit';
import { endPasswordOnlySessions } from '../../db/sessions';
import { getSettings } from '../../db/settings';
import { secondFactorRequired } from '../../domain/password-policy';
import { withTenant, type TenantTransaction } from '../../db/tenant-scope';
import { handsOutAccess, type UpdateAccountInput } from '../../domain/account';
import { withRefusalsLogged } from '../audit/refusals';
import { unlinkFormerDoctor } from '../practitioners/unlink-former-doctor';
import type { Services, SessionActor } from '../deps';
import { requireRecentProof } from '../auth/reauthenticate';

/**
 * An admin changes roles, display name, e-mail or disabled. The last active admin cannot be
 * demoted or disabled (409 last_admin, logged as denied); disabling ends the account's sessions.
 * Removing the doctor role unlinks the account from the doctors it was the account of. A role
 * that brings the account under the two-step rule (admin, while the rule covers admins) ends its
 * sessions that did not present a passkey, as a stricter rule would: they sign in again with one.
 * A change that hands out access (a new role, re-enabling, another e-mail address) needs the
 * admin's recent proof (403 reauthentication_required).
 */
export async function updateAccount(deps: Pick<Services, 'db' | 'log'>, actor: SessionActor, id: string, patch: UpdateAccountInput): Promise<AccountView> {
  const attempt = { action: patch.roles ? 'account.roles_change' : 'account.update', targetType: 'account', targetId: id, details: { fields: Object.keys(patch) } };
  return withRefusalsLogged(deps, actor.tenantId, actor.audit, attempt, () => withTenant(deps.db, actor.tenantId, async (trx) => {
    // Locked before the proof is decided: read unlocked, an enabled account let a stale session's
    // `disabled: false` through as a no-op, which then committed after an admin's disable.
    const before = await lockAccountForChange(trx, id);
    if (handsOutAccess(before, patch)) await requireRecentProof(trx, actor);
    const updated = await patchAccount(trx, id, patch);
    const practitionersUnlinked = before.roles.includes('doctor') && patch.roles && !patch.roles.includes('doctor') ? await unlinkFormerDoctor(trx, actor.audit, updated.id, 'doctor_role_removed') : [];
    const nowCovered = patch.roles !== undefined && (await coveredAnew(trx, before.roles, patch.roles));
    const sessionsEnded = nowCovered ? await endPasswordOnlySessions(trx, updated.id) : 0;
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
        ...(nowCovered ? { sessionsEnded } : {}),
      },
    });
    return toView(trx, updated);
  }));
}

/** Do these roles bring the account under the clinic's two-step rule, where the old ones did not? */
async function coveredAnew(trx: TenantTransaction, before: readonly string[], after: readonly string[]): Promise<boolean> {
  const { policy } = await getSettings(trx);
  return secondFactorRequired(policy, after) && !secondFactorRequired(policy, before);
}
