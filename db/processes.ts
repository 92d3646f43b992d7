import { randomUUID } from 'node:crypto';
import { notFound } from '../domain/problems';
import type { Vault } from '../lib/crypto/vault';
import { AccountRow } from './models/account';
import { GroupRow } from './models/group';
import { tenantIdOf, type TenantTransaction } from './tenant-scope';
import { isUuid } from '../domain/ids';

/**
 * Process areas. Who may see one: the accounts it lists, members of the groups it lists, and
 * admins when the clinic allows it. To everyone else it does not exist (404), like another
 * clinic's data.
 */

export interface Viewer {
  accountId: string;
  roles: string[];
}

export interface ProcessView {
  id: string;
  name: string;
  allowedAccountIds: string[];
  allowedGroupIds: string[];
  createdBy: string | null;
  createdAt: string;
  updatedAt: string;
}

const nameContext = (id: string) => `processes.name:${id}`;
export const fileNameContext = (id: string) => `process_files.name:${id}`;
export const fileContentContext = (id: string) => `process_files.content:${id}`;

async function adminsSeeAll(trx: TenantTransaction): Promise<boolean> {
  const row = await trx('tenant_settings').where({ tenant_id: tenantIdOf(trx) }).first('admins_see_all_processes');
  return row?.adminsSeeAllProcesses === true;
}

/** Ids of the processes the viewer may see (null = all, for admins where the clinic allows it). */
async function visibleIds(trx: TenantTransaction, viewer: Viewer): Promise<string[] | null> {
  if (viewer.roles.includes('admin') && (await adminsSeeAll(trx))) return null;
  const rows = await trx('process_access')
    .where({ tenant_id: tenantIdOf(trx) })
    .andWhere((q) =>
      q
        .where({ principal_type: 'account', principal_id: viewer.accountId })
        .orWhere((g) => g.where({ principal_type: 'group' }).whereIn('principal_id', trx('group_members').select('group_id').where({ account_id: viewer.accountId }))),
    )
    .distinct('process_id');
  return rows.map((r: { processId: string }) => r.processId);
}

export async function canSee(trx: TenantTransaction, viewer: Viewer, processId: string): Promise<boolean> {
  if (!isUuid(processId)) return false;
  const ids = await visibleIds(trx, viewer);
  const exists = await trx('processes').where({ id: processId, tenant_id: tenantIdOf(trx) }).first('id');
  return Boolean(exists) && (ids === null || ids.includes(processId));
}

async function assertPrincipals(trx: TenantTransaction, accountIds: string[], groupIds: string[]) {
  const bad = [...accountIds, ...groupIds].some((id) => !isUuid(id));
  const accounts = bad ? [] : await AccountRow.query(trx).whereIn('id', accountIds).whereNull('deletedAt');
  const groups = bad ? [] : await GroupRow.query(trx).whereIn('id', groupIds);
  if (bad || accounts.length !== new Set(accountIds).size || groups.length !== new Set(groupIds).size) {
    throw notFound('One or more of the listed accounts or groups do not exist.');
  }
}

async function setAccess(trx: TenantTransaction, processId: string, accountIds: string[], groupIds: string[]) {
  await trx('process_access').where({ process_id: processId }).delete();
  const rows = [
    ...[...new Set(accountIds)].map((id) => ({ principal_type: 'account', principal_id: id })),
    ...[...new Set(groupIds)].map((id) => ({ principal_type: 'group', principal_id: id })),
  ].map((r) => ({ ...r, tenant_id: tenantIdOf(trx), process_id: processId }));
  if (rows.length) await trx('process_access').insert(rows);
}

async function view(trx: TenantTransaction, vault: Vault, row: { id: string; nameSealed: Buffer; createdBy: string | null; createdAt: Date; updatedAt: Date }): Promise<ProcessView> {
  const access = await trx('process_access').where({ process_id: row.id });
  return {
    id: row.id,
    name: await vault.decryptText(tenantIdOf(trx)!, nameContext(row.id), row.nameSealed),
    allowedAccountIds: access.filter((a: { principalType: string }) => a.principalType === 'account').map((a: { principalId: string }) => a.principalId),
    allowedGroupIds: access.filter((a: { principalType: string }) => a.principalType === 'group').map((a: { principalId: string }) => a.principalId),
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export async function createProcess(
  trx: TenantTransaction,
  vault: Vault,
  viewer: Viewer,
  input: { name: string; allowedAccountIds: string[]; allowedGroupIds: string[] },
): Promise<ProcessView> {
  // The creator can always see what they made.
  const accounts = [...new Set([viewer.accountId, ...input.allowedAccountIds])];
  await assertPrincipals(trx, accounts, input.allowedGroupIds);
  const id = randomUUID();
  const nameSealed = await vault.encryptText(tenantIdOf(trx)!, nameContext(id), input.name);
  await trx('processes').insert({ id, tenant_id: tenantIdOf(trx), name_sealed: nameSealed, created_by: viewer.accountId });
  await setAccess(trx, id, accounts, input.allowedGroupIds);
  return getProcess(trx, vault, viewer, id);
}

export async function getProcess(trx: TenantTransaction, vault: Vault, viewer: Viewer, id: string): Promise<ProcessView> {
  if (!(await canSee(trx, viewer, id))) throw notFound('No such process.');
  return view(trx, vault, await trx('processes').where({ id }).first());
}

export async function listProcesses(trx: TenantTransaction, vault: Vault, viewer: Viewer): Promise<ProcessView[]> {
  const ids = await visibleIds(trx, viewer);
  const q = trx('processes').where({ tenant_id: tenantIdOf(trx) }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
  if (ids !== null) q.whereIn('id', ids);
  return Promise.all((await q).map((row: Parameters<typeof view>[2]) => view(trx, vault, row)));
}

export async function updateProcess(
  trx: TenantTransaction,
  vault: Vault,
  viewer: Viewer,
  id: string,
  patch: { name?: string; allowedAccountIds?: string[]; allowedGroupIds?: string[] },
): Promise<ProcessView> {
  const current = await getProcess(trx, vault, viewer, id);
  if (patch.name !== undefined) {
    await trx('processes').where({ id }).update({ name_sealed: await vault.encryptText(tenantIdOf(trx)!, nameContext(id), patch.name), updated_at: trx.fn.now() });
  }
  if (patch.allowedAccountIds !== undefined || patch.allowedGroupIds !== undefined) {
    const accounts = patch.allowedAccountIds ?? current.allowedAccountIds;
    const groups = patch.allowedGroupIds ?? current.allowedGroupIds;
    await assertPrincipals(trx, accounts, groups);
    await setAccess(trx, id, accounts, groups);
    await trx('processes').where({ id }).update({ updated_at: trx.fn.now() });
  }
  return view(trx, vault, await trx('processes').where({ id }).first());
}

export interface FileView {
  id: string;
  name: string;
  contentType: string;
  size: number;
  createdBy: string | null;
  createdAt: string;
}

export async function fileView(trx: TenantTransaction, vault: Vault, row: { id: string; nameSealed: Buffer; contentType: string; sizeBytes: string; createdBy: string | null; createdAt: Date }): Promise<FileView> {
  return {
    id: row.id,
    name: await vault.decryptText(tenantIdOf(trx)!, fileNameContext(row.id), row.nameSealed),
    contentType: row.contentType,
    size: Number(row.sizeBytes),
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
  };
}

export async function listFiles(trx: TenantTransaction, vault: Vault, viewer: Viewer, processId: string): Promise<FileView[]> {
  if (!(await canSee(trx, viewer, processId))) throw notFound('No such process.');
  const rows = await trx('process_files').where({ process_id: processId }).orderBy([{ column: 'created_at' }, { column: 'id' }]);
  return Promise.all(rows.map((r: Parameters<typeof fileView>[2]) => fileView(trx, vault, r)));
}

export async function findFile(trx: TenantTransaction, viewer: Viewer, processId: string, fileId: string) {
  if (!(await canSee(trx, viewer, processId)) || !isUuid(fileId)) throw notFound('No such file.');
  const row = await trx('process_files').where({ id: fileId, process_id: processId }).first();
  if (!row) throw notFound('No such file.');
  return row as { id: string; nameSealed: Buffer; contentType: string; sizeBytes: string; storageKey: string; createdBy: string | null; createdAt: Date };
}
