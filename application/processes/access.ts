import { adminsSeeAllProcesses, countPrincipals, findProcess, rightsListing, type ProcessRow } from '../../db/processes';
import type { TenantTransaction } from '../../db/tenant-scope';
import { isUuid } from '../../domain/ids';
import { effectiveRight, hasRight, highestRight, mayCreateProcess, seesEveryProcess, type ProcessRight, type Viewer } from '../../domain/process';
import { forbidden, notFound } from '../../domain/problems';

/** Who may do what in which area, inside the use case's transaction (rules: domain/process.ts). */

/** Ids of the areas the viewer may see; null when they may see all of them. */
export async function visibleProcessIds(trx: TenantTransaction, viewer: Viewer): Promise<string[] | null> {
  if (seesEveryProcess(viewer, await adminsSeeAllProcesses(trx))) return null;
  return [...new Set((await rightsListing(trx, viewer.accountId)).map((r) => r.processId))];
}

/**
 * The area, if the viewer may enter it with at least the right `need`. An area the viewer may not
 * enter does not exist for them (404 with `missing`); one they may enter without that right
 * answers 403 `process_right_required`.
 */
export async function enterProcess(
  trx: TenantTransaction,
  viewer: Viewer,
  id: string,
  need: ProcessRight,
  missing = 'No such process.',
  opts: { forUpdate?: boolean } = {},
): Promise<ProcessRow> {
  const row = await findProcess(trx, id, opts);
  if (!row) throw notFound(missing);
  const listed = highestRight((await rightsListing(trx, viewer.accountId, id)).map((r) => r.right));
  const right = effectiveRight(viewer, listed, await adminsSeeAllProcesses(trx));
  if (right === null) throw notFound(missing);
  if (!hasRight(right, need)) {
    throw forbidden('process_right_required', `This needs the "${need}" right on this process area; you have "${right}".`);
  }
  return row;
}

/** Creating an area is for the care team; auditors are read-only. */
export function assertMayCreateProcess(viewer: Viewer): void {
  if (!mayCreateProcess(viewer)) throw forbidden('forbidden', 'Auditors are read-only: creating process areas needs the admin, doctor or staff role.');
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
