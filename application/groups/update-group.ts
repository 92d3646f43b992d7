import { recordAudit } from '../../db/audit';
import { updateGroup as patchGroup, type GroupView } from '../../db/groups';
import { withTenant } from '../../db/tenant-scope';
import type { ClinicActor, Services } from '../deps';

/** An admin renames a group or replaces its members. */
export async function updateGroup(deps: Pick<Services, 'db'>, actor: ClinicActor, id: string, patch: { name?: string; memberIds?: string[] }): Promise<GroupView> {
  return withTenant(deps.db, actor.tenantId, async (trx) => {
    const group = await patchGroup(trx, id, patch);
    await recordAudit(trx, actor.audit, { action: 'group.update', outcome: 'success', targetType: 'group', targetId: group.id, details: { fields: Object.keys(patch) } });
    return group;
  });
}
