import { recordAudit } from '../../db/audit';
import { addMember, lockGroup, removeMember, type GroupView } from '../../db/groups';
import { withTenant } from '../../db/tenant-scope';
import type { ClinicActor, Services, SessionActor } from '../deps';
import { withRefusalsLogged } from '../audit/refusals';
import { requireRecentProof } from '../auth/reauthenticate';

/**
 * An admin adds an account of the clinic to a group (adding a member twice changes nothing). The
 * member gets the group's rights on process areas: a password or passkey proved in the last
 * 5 minutes is needed (403 reauthentication_required, logged as denied), so that a session left
 * open cannot hand an area's records to an account of its choosing.
 */
export async function addGroupMember(deps: Pick<Services, 'db' | 'log'>, actor: SessionActor, groupId: string, accountId: string): Promise<GroupView> {
  const attempt = { action: 'group.member_add', targetType: 'group', targetId: groupId, details: { accountId } };
  return withRefusalsLogged(deps, actor.tenantId, actor.audit, attempt, () =>
    withTenant(deps.db, actor.tenantId, async (trx) => {
      await requireRecentProof(trx, actor);
      await lockGroup(trx, groupId);
      const group = await addMember(trx, groupId, accountId);
      await recordAudit(trx, actor.audit, { action: 'group.member_add', outcome: 'success', targetType: 'group', targetId: groupId, details: { accountId } });
      return group;
    }),
  );
}

/** An admin takes an account out of a group (404 if it was not in it). */
export async function removeGroupMember(deps: Pick<Services, 'db'>, actor: ClinicActor, groupId: string, accountId: string): Promise<void> {
  await withTenant(deps.db, actor.tenantId, async (trx) => {
    await lockGroup(trx, groupId);
    await removeMember(trx, groupId, accountId);
    await recordAudit(trx, actor.audit, { action: 'group.member_remove', outcome: 'success', targetType: 'group', targetId: groupId, details: { accountId } });
  });
}
