import type { FileRow, ProcessRow } from '../../db/processes';
import type { ProcessArea, ProcessFile } from '../../domain/process';
import type { Vault } from '../../lib/crypto/vault';

/**
 * Names of areas and files can carry patient names: they are sealed before a transaction writes
 * them and opened after it committed (the vault may call KMS). File contents are sealed and
 * opened as streams under their own context.
 */
const nameContext = (id: string) => `processes.name:${id}`;
const fileNameContext = (id: string) => `process_files.name:${id}`;
export const fileContentContext = (id: string) => `process_files.content:${id}`;

export const sealProcessName = (vault: Vault, tenantId: string, id: string, name: string) => vault.encryptText(tenantId, nameContext(id), name);
export const sealFileName = (vault: Vault, tenantId: string, id: string, name: string) => vault.encryptText(tenantId, fileNameContext(id), name);

export async function openProcess(vault: Vault, row: ProcessRow): Promise<ProcessArea> {
  return {
    id: row.id,
    name: await vault.decryptText(row.tenantId, nameContext(row.id), row.nameSealed),
    allowedAccountIds: row.accounts.map((e) => e.id),
    allowedGroupIds: row.groups.map((e) => e.id),
    allowedAccounts: row.accounts,
    allowedGroups: row.groups,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export async function openFile(vault: Vault, row: FileRow): Promise<ProcessFile> {
  return {
    id: row.id,
    name: await vault.decryptText(row.tenantId, fileNameContext(row.id), row.nameSealed),
    contentType: row.contentType,
    size: Number(row.sizeBytes),
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
  };
}
