import { getGroup, listGroups, type GroupView } from '../../db/groups';
import { withTenant } from '../../db/tenant-scope';
import { decodeNameCursor, encodeNameCursor } from '../../domain/pagination';
import type { ClinicActor, Services } from '../deps';

/** The clinic's user groups by name, with their members: all of them, or with a limit one page and the cursor of the next. */
export async function listClinicGroups(
  deps: Pick<Services, 'db'>,
  actor: ClinicActor,
  page: { limit?: number; cursor?: string } = {},
): Promise<{ items: GroupView[]; nextCursor: string | null }> {
  const after = decodeNameCursor(page.cursor);
  const { groups, next } = await withTenant(deps.db, actor.tenantId, (trx) => listGroups(trx, page.limit === undefined ? undefined : { limit: page.limit, after }));
  return { items: groups, nextCursor: next && encodeNameCursor(next) };
}

/** One group (404 for another clinic's). */
export async function readGroup(deps: Pick<Services, 'db'>, actor: ClinicActor, id: string): Promise<GroupView> {
  return withTenant(deps.db, actor.tenantId, (trx) => getGroup(trx, id));
}
