import { getGroup, listGroups, type GroupView } from '../../db/groups';
import { withTenant } from '../../db/tenant-scope';
import type { ClinicActor, Services } from '../deps';

/** The clinic's user groups by name, with their members. */
export async function listClinicGroups(deps: Pick<Services, 'db'>, actor: ClinicActor): Promise<GroupView[]> {
  return withTenant(deps.db, actor.tenantId, (trx) => listGroups(trx));
}

/** One group (404 for another clinic's). */
export async function readGroup(deps: Pick<Services, 'db'>, actor: ClinicActor, id: string): Promise<GroupView> {
  return withTenant(deps.db, actor.tenantId, (trx) => getGroup(trx, id));
}
