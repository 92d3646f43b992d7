import { conflict, notFound } from '../domain/problems';
import { AccountRow } from './models/account';
import { GroupMemberRow, GroupRow } from './models/group';
import { tenantIdOf, type TenantTransaction } from './tenant-scope';
import { isUuid } from '../domain/ids';
import type { NameKeyset } from '../domain/pagination';
import { isUniqueViolation } from './errors';

/** User groups of one clinic (used for access to process areas). */

export interface GroupView {
  id: string;
  name: string;
  memberIds: string[];
  createdAt: string;
  updatedAt: string;
}

async function view(trx: TenantTransaction, g: GroupRow): Promise<GroupView> {
  return (await views(trx, [g]))[0]!;
}

/** Groups as shown, with their members in one query (not one per group). */
async function views(trx: TenantTransaction, groups: readonly GroupRow[]): Promise<GroupView[]> {
  const members = groups.length === 0 ? [] : await GroupMemberRow.query(trx).whereIn('groupId', groups.map((g) => g.id)).orderBy([{ column: 'addedAt' }, { column: 'accountId' }]);
  const byGroup = new Map<string, string[]>();
  for (const m of members) byGroup.set(m.groupId, [...(byGroup.get(m.groupId) ?? []), m.accountId]);
  return groups.map((g) => ({ id: g.id, name: g.name, memberIds: byGroup.get(g.id) ?? [], createdAt: g.createdAt.toISOString(), updatedAt: g.updatedAt.toISOString() }));
}

async function findGroup(trx: TenantTransaction, id: string, opts: { forUpdate?: boolean } = {}): Promise<GroupRow> {
  const query = isUuid(id) ? GroupRow.query(trx).findById(id) : undefined;
  const group = query && (await (opts.forUpdate ? query.forUpdate() : query));
  if (!group) throw notFound('No such group.');
  return group;
}

/**
 * A change of the group's members holds its row until commit: two at once replaced the list
 * over each other (a unique violation, 409 conflict), and a list read before another's removal
 * was written back after it, bringing the removed member back without the proof an addition
 * needs (attack run). 404 for an unknown group.
 */
export async function lockGroup(trx: TenantTransaction, id: string): Promise<void> {
  await findGroup(trx, id, { forUpdate: true });
}

/**
 * Before an account is deleted: holds the groups it is a member of (in id order), as a member
 * change does before it shares the account's row, so the two take their locks in one order. A
 * member-list change and the deletion deadlocked (503 on both) when the change waited for the
 * account and the deletion for the change's membership row (fourth look).
 */
export async function lockGroupsOf(trx: TenantTransaction, accountId: string): Promise<void> {
  if (!isUuid(accountId)) return;
  await trx.raw(
    `select g.id from groups g where g.tenant_id = ? and g.id in (select m.group_id from group_members m where m.account_id = ?) order by g.id for update of g`,
    [tenantIdOf(trx)!, accountId],
  );
}

/** Every id must be an existing account of this clinic; another clinic's id is simply unknown. */
/**
 * The accounts' rows are shared until commit (in id order, as every lock on accounts is taken),
 * so none is deleted between this check and the membership that names it: a member added while
 * its account was deleted stayed in the group (fourth look).
 */
async function assertAccounts(trx: TenantTransaction, ids: string[]): Promise<void> {
  const unique = [...new Set(ids)];
  if (unique.some((id) => !isUuid(id))) throw notFound('One or more accounts do not exist.');
  const found = await AccountRow.query(trx).whereIn('id', unique).whereNull('deletedAt').orderBy('id').forShare();
  if (found.length !== unique.length) throw notFound('One or more accounts do not exist.');
}

const uniqueName = async <T>(name: string, fn: () => PromiseLike<T>): Promise<T> => {
  try {
    return await fn();
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw conflict('group_name_taken', `A group named "${name}" already exists.`);
    }
    throw err;
  }
};

export async function createGroup(trx: TenantTransaction, input: { name: string; memberIds: string[] }): Promise<GroupView> {
  await assertAccounts(trx, input.memberIds);
  const group = await uniqueName(input.name, () => GroupRow.query(trx).insertAndFetch({ name: input.name }));
  for (const accountId of new Set(input.memberIds)) await GroupMemberRow.query(trx).insert({ groupId: group.id, accountId });
  return view(trx, group);
}

/**
 * The clinic's groups by name: all of them, or with a page up to its limit after its keyset, and
 * the keyset of the next page if there is one.
 */
export async function listGroups(trx: TenantTransaction, page?: { limit: number; after?: NameKeyset }): Promise<{ groups: GroupView[]; next: NameKeyset | null }> {
  const q = GroupRow.query(trx).orderBy([{ column: 'name' }, { column: 'id' }]);
  if (page?.after) q.whereRaw('(name, id) > (?, ?::uuid)', [page.after.name, page.after.id]);
  if (page) q.limit(page.limit + 1);
  const found = await q;
  const kept = page ? found.slice(0, page.limit) : found;
  const next = page && found.length > page.limit ? { name: kept.at(-1)!.name, id: kept.at(-1)!.id } : null;
  return { groups: await views(trx, kept), next };
}

export const getGroup = async (trx: TenantTransaction, id: string) => view(trx, await findGroup(trx, id));

export async function updateGroup(trx: TenantTransaction, id: string, patch: { name?: string; memberIds?: string[] }): Promise<GroupView> {
  const group = await findGroup(trx, id);
  if (patch.name !== undefined) {
    await uniqueName(patch.name, () => GroupRow.query(trx).patch({ name: patch.name, updatedAt: trx.fn.now() as never }).where({ id }));
  }
  if (patch.memberIds !== undefined) {
    await assertAccounts(trx, patch.memberIds);
    await GroupMemberRow.query(trx).delete().where({ groupId: id });
    for (const accountId of new Set(patch.memberIds)) await GroupMemberRow.query(trx).insert({ groupId: id, accountId });
  }
  return view(trx, (await GroupRow.query(trx).findById(group.id))!);
}

/** The group's members' ids, sorted (none for an unknown group). */
export async function membersOf(trx: TenantTransaction, id: string): Promise<string[]> {
  if (!isUuid(id)) return [];
  const rows = await GroupMemberRow.query(trx).where({ groupId: id }).select('accountId');
  return rows.map((r) => r.accountId).sort();
}

export async function deleteGroup(trx: TenantTransaction, id: string): Promise<void> {
  await findGroup(trx, id);
  await GroupRow.query(trx).delete().where({ id });
}

export async function addMember(trx: TenantTransaction, id: string, accountId: string): Promise<GroupView> {
  const group = await findGroup(trx, id);
  await assertAccounts(trx, [accountId]);
  await GroupMemberRow.query(trx).insert({ groupId: id, accountId }).onConflict(['groupId', 'accountId']).ignore();
  return view(trx, group);
}

export async function removeMember(trx: TenantTransaction, id: string, accountId: string): Promise<void> {
  await findGroup(trx, id);
  const removed = isUuid(accountId) ? await GroupMemberRow.query(trx).delete().where({ groupId: id, accountId }) : 0;
  if (removed === 0) throw notFound('That account is not a member of this group.');
}
