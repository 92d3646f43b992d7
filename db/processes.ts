import { isUuid } from '../domain/ids';
import { CURSOR_TS_SQL, type Keyset } from '../domain/pagination';
import type { AccessEntry, ProcessRight } from '../domain/process';
import { AccountRow } from './models/account';
import { GroupRow } from './models/group';
import { tenantIdOf, type TenantTransaction } from './tenant-scope';

/**
 * Process areas, who may enter them, and their files. Every function runs inside the clinic's
 * withTenant() transaction. Names come and go sealed; who may see what is decided by the
 * application layer (application/processes/) from the rules in domain/process.ts.
 */
export interface ProcessRow {
  id: string;
  tenantId: string;
  nameSealed: Buffer;
  createdBy: string | null;
  createdAt: Date;
  updatedAt: Date;
  /** The access list, by kind of principal, each entry with its right. */
  accounts: AccessEntry[];
  groups: AccessEntry[];
}

export interface FileRow {
  id: string;
  tenantId: string;
  processId: string;
  nameSealed: Buffer;
  contentType: string;
  /** bigint: a string from pg. */
  sizeBytes: string;
  storageKey: string;
  createdBy: string | null;
  createdAt: Date;
}

interface AccessRow {
  processId: string;
  principalType: 'account' | 'group';
  principalId: string;
  accessRight: ProcessRight;
}

export async function adminsSeeAllProcesses(trx: TenantTransaction): Promise<boolean> {
  const row = await trx('tenant_settings').where({ tenant_id: tenantIdOf(trx) }).first('admins_see_all_processes');
  return row?.adminsSeeAllProcesses === true;
}

/**
 * The rights the access lists give the account, directly or through its groups: one row per entry
 * that covers it (an area can appear more than once), for one area or all of them.
 */
export async function rightsListing(trx: TenantTransaction, accountId: string, processId?: string): Promise<{ processId: string; right: ProcessRight }[]> {
  const q = trx('process_access')
    .where({ tenant_id: tenantIdOf(trx) })
    .andWhere((w) =>
      w
        .where({ principal_type: 'account', principal_id: accountId })
        .orWhere((g) => g.where({ principal_type: 'group' }).whereIn('principal_id', trx('group_members').select('group_id').where({ account_id: accountId }))),
    )
    .select('process_id', 'access_right');
  if (processId !== undefined) q.andWhere({ process_id: processId });
  const rows: Pick<AccessRow, 'processId' | 'accessRight'>[] = await q;
  return rows.map((r) => ({ processId: r.processId, right: r.accessRight }));
}

async function withAccess(trx: TenantTransaction, rows: Omit<ProcessRow, 'accounts' | 'groups'>[]): Promise<ProcessRow[]> {
  if (!rows.length) return [];
  const access: AccessRow[] = await trx('process_access').whereIn('process_id', rows.map((r) => r.id)).orderBy(['principal_type', 'principal_id']);
  const of = (id: string, type: AccessRow['principalType']) =>
    access.filter((a) => a.processId === id && a.principalType === type).map((a) => ({ id: a.principalId, right: a.accessRight }));
  return rows.map((r) => ({ ...r, accounts: of(r.id, 'account'), groups: of(r.id, 'group') }));
}

/**
 * `forUpdate`: the row is held until commit, for a change of the area's access list: two at once
 * replaced the list over each other (a unique violation, 409 conflict), and a list read before
 * another's removal was written back after it, re-listing the removed account without the proof
 * an addition needs (attack run).
 */
export async function findProcess(trx: TenantTransaction, id: string, opts: { forUpdate?: boolean } = {}): Promise<ProcessRow | undefined> {
  if (!isUuid(id)) return undefined;
  const query = trx('processes').where({ id, tenant_id: tenantIdOf(trx) }).first();
  const row = await (opts.forUpdate ? query.forUpdate() : query);
  return row ? (await withAccess(trx, [row]))[0] : undefined;
}

/**
 * Areas by creation, all of them or only those with the given ids; with a page, up to its limit
 * after its keyset, and the keyset of the next page if there is one.
 */
export async function listProcesses(trx: TenantTransaction, onlyIds: string[] | null, page?: { limit: number; after?: Keyset }): Promise<{ rows: ProcessRow[]; next: Keyset | null }> {
  const q = trx('processes').select('*', trx.raw(CURSOR_TS_SQL)).where({ tenant_id: tenantIdOf(trx) }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
  if (onlyIds !== null) q.whereIn('id', onlyIds);
  if (page?.after) q.whereRaw('(created_at, id) > (?::timestamptz, ?::uuid)', [page.after.createdAt, page.after.id]);
  if (page) q.limit(page.limit + 1);
  const found = (await q) as Array<Omit<ProcessRow, 'accounts' | 'groups'> & { cursorTs: string }>;
  const kept = page ? found.slice(0, page.limit) : found;
  const next = page && found.length > page.limit ? { createdAt: kept.at(-1)!.cursorTs, id: kept.at(-1)!.id } : null;
  return { rows: await withAccess(trx, kept.map(({ cursorTs: _, ...row }) => row)), next };
}

export async function insertProcess(trx: TenantTransaction, row: { id: string; nameSealed: Buffer; createdBy: string }): Promise<void> {
  await trx('processes').insert({ id: row.id, tenant_id: tenantIdOf(trx), name_sealed: row.nameSealed, created_by: row.createdBy });
}

/** Marks the area changed, with its new sealed name if it has one. */
export async function touchProcess(trx: TenantTransaction, id: string, nameSealed?: Buffer): Promise<void> {
  await trx('processes').where({ id }).update({ ...(nameSealed ? { name_sealed: nameSealed } : {}), updated_at: trx.fn.now() });
}

/** Replaces the area's access list (entries already resolved and without duplicate ids). */
export async function replaceAccess(trx: TenantTransaction, processId: string, accounts: AccessEntry[], groups: AccessEntry[]): Promise<void> {
  await trx('process_access').where({ process_id: processId }).delete();
  const rows = [
    ...accounts.map((e) => ({ principal_type: 'account', principal_id: e.id, access_right: e.right })),
    ...groups.map((e) => ({ principal_type: 'group', principal_id: e.id, access_right: e.right })),
  ].map((r) => ({ ...r, tenant_id: tenantIdOf(trx), process_id: processId }));
  if (rows.length) await trx('process_access').insert(rows);
}

/**
 * A deleted account or group leaves every access list (in the transaction that deletes it): a
 * dead id there gave nothing, but sending back the list an area answered with was then refused
 * (404: not a live account or group). Returns the areas whose list changed, for the log.
 */
/**
 * Before an account or a group is deleted: holds the rows of the areas that list it (in one order,
 * so two deletions cannot deadlock), as an access-list change does, so that a change that read the
 * list with it in it finishes first (else it validated the list after the deletion and answered
 * 404 for a group it never named). Taken before the principal's own row: a change holds its area,
 * then shares the rows of the principals it lists (countPrincipals), the same order.
 */
export async function lockAreasListing(trx: TenantTransaction, type: 'account' | 'group', id: string): Promise<void> {
  if (!isUuid(id)) return; // no such principal (its deletion answers 404)
  await trx.raw(
    `select p.id from processes p
      where p.tenant_id = ? and p.id in (select a.process_id from process_access a where a.principal_type = ? and a.principal_id = ?)
      order by p.id for update of p`,
    [tenantIdOf(trx)!, type, id],
  );
}

/**
 * Takes a deleted principal off every list, after its own row was deleted: a change that listed
 * it anew held a share of that row (countPrincipals), so its entry is committed and seen here.
 */
export async function removePrincipalAccess(trx: TenantTransaction, type: 'account' | 'group', id: string): Promise<string[]> {
  const rows: Array<{ processId: string }> = await trx('process_access').where({ principal_type: type, principal_id: id }).delete().returning('process_id');
  return [...new Set(rows.map((r) => r.processId))].sort();
}

/**
 * How many of these (distinct, UUID) ids are live accounts and groups of the clinic. Their rows
 * are shared until commit, so none is deleted between this check and the list that names it
 * (the re-attack left areas listing a deleted group, and every later change of them was 404).
 */
export async function countPrincipals(trx: TenantTransaction, accountIds: string[], groupIds: string[]): Promise<{ accounts: number; groups: number }> {
  // One order for every lock on these rows: areas, then groups, then accounts, each in id order
  // (an account's deletion takes its areas, its groups, then the admins and itself). In scan
  // order they deadlocked with an admin's deletion (fourth look).
  const groups = groupIds.length ? await GroupRow.query(trx).whereIn('id', groupIds).orderBy('id').forShare() : [];
  const accounts = accountIds.length ? await AccountRow.query(trx).whereIn('id', accountIds).whereNull('deletedAt').orderBy('id').forShare() : [];
  return { accounts: accounts.length, groups: groups.length };
}

export async function insertFile(
  trx: TenantTransaction,
  row: { id: string; processId: string; nameSealed: Buffer; contentType: string; sizeBytes: number; storedBytes: number; storageKey: string; createdBy: string },
): Promise<FileRow> {
  const [created] = await trx('process_files')
    .insert({
      id: row.id,
      tenant_id: tenantIdOf(trx),
      process_id: row.processId,
      name_sealed: row.nameSealed,
      content_type: row.contentType,
      size_bytes: row.sizeBytes,
      stored_bytes: row.storedBytes,
      storage_key: row.storageKey,
      created_by: row.createdBy,
    })
    .returning('*');
  return created as FileRow;
}

/**
 * The area's files, oldest first: all of them, or with `limit` one page after `after` (keyset on
 * created_at and id, the cursor at microsecond precision) and the keyset of the last row.
 */
export async function listFiles(trx: TenantTransaction, processId: string, page?: { limit: number; after?: Keyset }): Promise<{ rows: FileRow[]; next: Keyset | null }> {
  const q = trx('process_files').select('*', trx.raw(CURSOR_TS_SQL)).where({ process_id: processId }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
  if (page?.after) q.whereRaw('(created_at, id) > (?::timestamptz, ?::uuid)', [page.after.createdAt, page.after.id]);
  if (page) q.limit(page.limit + 1);
  const rows = (await q) as Array<FileRow & { cursorTs: string }>;
  if (!page || rows.length <= page.limit) return { rows, next: null };
  const kept = rows.slice(0, page.limit);
  return { rows: kept, next: { createdAt: kept.at(-1)!.cursorTs, id: kept.at(-1)!.id } };
}

export async function findFile(trx: TenantTransaction, processId: string, fileId: string): Promise<FileRow | undefined> {
  if (!isUuid(processId) || !isUuid(fileId)) return undefined;
  return trx('process_files').where({ id: fileId, process_id: processId }).first();
}
