import { recordAudit } from '../../db/audit';
import { membersOf, updateGroup as patchGroup, type GroupView } from '../../db/groups';
import { withTenant } from '../../db/tenant-scope';
import type { ClinicActor, Services } from '../deps';

/** An admin renames a group or replaces its members. */
export async function updateGroup(deps: Pick<Services, 'db'>, actor: ClinicActor, id: string, patch: { name?: string; memberIds?: string[] }): Promise<GroupView> {
  return withTenant(deps.db, actor.tenantId, async (trx) => {
    const before = patch.memberIds === undefined ? undefined : await membersOf(trx, id);
    const group = await patchGroup(trx, id, patch);
    // Members get the group's rights on areas: who joined and who left must be readable from the log.
    const after = [...group.memberIds].sort();
    const members = before && JSON.stringify(before) !== JSON.stringify(after) ? { members: { added: after.filter((m) => !before.includes(m)), removed: before.filter((m) => !after.includes(m)) } } : {};
    await recordAudit(trx, actor.audit, { action: 'group.update', outcome: 'success', targetType: 'group', targetId: group.id, details: { fields: Object.keys(patch), ...members } });
    return group;
  });
}
