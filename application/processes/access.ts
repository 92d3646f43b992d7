import { adminsSeeAllProcesses, countPrincipals, findProcess, processIdsListing, type ProcessRow } from '../../db/processes';
import type { TenantTransaction } from '../../db/tenant-scope';
import { isUuid } from '../../domain/ids';
import { seesEveryProcess, type Viewer } from '../../domain/process';
import { notFound } from '../../domain/problems';

/** Who may enter which area, inside the use case's transaction (rules: domain/process.ts). */

/** Ids of the areas the viewer may see; null when they may see all of them. */
export async function visibleProcessIds(trx: TenantTransaction, viewer: Viewer): Promise<string[] | null> {
  if (seesEveryProcess(viewer, await adminsSeeAllProcesses(trx))) return null;
  return processIdsListing(trx, viewer.accountId);
}

/** The area, if the viewer may enter it; otherwise it does not exist for them (404 with `missing`). */
export async function enterProcess(trx: TenantTransaction, viewer: Viewer, id: string, missing = 'No such process.'): Promise<ProcessRow> {
  const row = await findProcess(trx, id);
  const ids = row ? await visibleProcessIds(trx, viewer) : [];
  if (!row || (ids !== null && !ids.includes(id))) throw notFound(missing);
  return row;
}

/** Every listed account and group must exist in the clinic; another clinic's id is simply unknown. */
export async function assertPrincipals(trx: TenantTransaction, accountIds: string[], groupIds: string[]): Promise<void> {
  const accounts = [...new Set(accountIds)];
  const groups = [...new Set(groupIds)];
  const valid = [...accounts, ...groups].every(isUuid);
  const found = valid ? await countPrincipals(trx, accounts, groups) : undefined;
  if (!found || found.accounts !== accounts.length || found.groups !== groups.length) {
    throw notFound('One or more of the listed accounts or groups do not exist.');
  }
}
