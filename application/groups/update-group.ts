import { recordAudit } from '../../db/audit';
import { lockGroup, membersOf, updateGroup as patchGroup, type GroupView } from '../../db/groups';
import { withTenant } from '../../db/tenant-scope';
import { withRefusalsLogged } from '../audit/refusals';
import { requireRecentProof } from '../auth/reauthenticate';
import type { Services, SessionActor } from '../deps';

/**
 * An admin renames a group or replaces its members. A list that adds anyone hands them the
 * group's rights on process areas, so it needs a password or passkey proved in the last 5 minutes
 * (403 reauthentication_required, logged as denied), as adding one member does; renaming and
 * removing members do not.
 */
export async function updateGroup(
  deps: Pick<Services, 'db' | 'log'>,
  actor: SessionActor,
  id: string,
  patch: { name?: string; memberIds?: string[] },
): Promise<GroupView> {
  const attempt = { action: 'group.update', targetType: 'group', targetId: id, details: { fields: Object.keys(patch) } };
  return withRefusalsLogged(deps, actor.tenantId, actor.audit, attempt, () =>
    withTenant(deps.db, actor.tenantId, async (trx) => {
      await lockGroup(trx, id);
      const before = patch.memberIds === undefined ? undefined : await membersOf(trx, id);
      if (before && patch.memberIds!.some((m) => !before.includes(m))) await requireRecentProof(trx, actor);
      const group = await patchGroup(trx, id, patch);
      // Members get the group's rights on areas: who joined and who left must be readable from the log.
      const after = [...group.memberIds].sort();
      const members = before && JSON.stringify(before) !== JSON.stringify(after) ? { members: { added: after.filter((m) => !before.includes(m)), removed: before.filter((m) => !after.includes(m)) } } : {};
      await recordAudit(trx, actor.audit, { action: 'group.update', outcome: 'success', targetType: 'group', targetId: group.id, details: { fields: Object.keys(patch), ...members } });
      return group;
    }),
  );
}
