import { recordAudit } from '../../db/audit';
import { deleteGroup as removeGroup } from '../../db/groups';
import { lockAreasListing, removePrincipalAccess } from '../../db/processes';
import { withTenant } from '../../db/tenant-scope';
import type { ClinicActor, Services } from '../deps';

/** An admin deletes a group (404 for another clinic's); it leaves every area's access list with it. */
export async function deleteGroup(deps: Pick<Services, 'db'>, actor: ClinicActor, id: string): Promise<void> {
  await withTenant(deps.db, actor.tenantId, async (trx) => {
    await lockAreasListing(trx, 'group', id);
    await removeGroup(trx, id);
    const processAccessRemoved = await removePrincipalAccess(trx, 'group', id);
    await recordAudit(trx, actor.audit, { action: 'group.delete', outcome: 'success', targetType: 'group', targetId: id, ...(processAccessRemoved.length ? { details: { processAccessRemoved } } : {}) });
  });
}
