import { recordAudit } from '../../db/audit';
import { addMember, removeMember, type GroupView } from '../../db/groups';
import { withTenant } from '../../db/tenant-scope';
import type { ClinicActor, Services } from '../deps';

/** An admin adds an account of the clinic to a group (adding a member twice changes nothing). */
export async function addGroupMember(deps: Pick<Services, 'db'>, actor: ClinicActor, groupId: string, accountId: string): Promise<GroupView> {
  return withTenant(deps.db, actor.tenantId, async (trx) => {
    const group = await addMember(trx, groupId, accountId);
    await recordAudit(trx, actor.audit, { action: 'group.member_add', outcome: 'success', targetType: 'group', targetId: groupId, details: { accountId } });
    return group;
  });
}

/** An admin takes an account out of a group (404 if it was not in it). */
export async function removeGroupMember(deps: Pick<Services, 'db'>, actor: ClinicActor, groupId: string, accountId: string): Promise<void> {
  await withTenant(deps.db, actor.tenantId, async (trx) => {
    await removeMember(trx, groupId, accountId);
    await recordAudit(trx, actor.audit, { action: 'group.member_remove', outcome: 'success', targetType: 'group', targetId: groupId, details: { accountId } });
  });
}
