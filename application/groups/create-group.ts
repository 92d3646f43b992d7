import { recordAudit } from '../../db/audit';
import { createGroup as insertGroup, type GroupView } from '../../db/groups';
import { withTenant } from '../../db/tenant-scope';
import type { ClinicActor, Services } from '../deps';

/** An admin creates a user group (409 group_name_taken; 404 for members that are not the clinic's accounts). */
export async function createGroup(deps: Pick<Services, 'db'>, actor: ClinicActor, input: { name: string; memberIds: string[] }): Promise<GroupView> {
  return withTenant(deps.db, actor.tenantId, async (trx) => {
    const group = await insertGroup(trx, input);
    await recordAudit(trx, actor.audit, { action: 'group.create', outcome: 'success', targetType: 'group', targetId: group.id, details: { members: group.memberIds.length, memberIds: [...group.memberIds].sort() } });
    return group;
  });
}
