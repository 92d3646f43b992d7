import { randomUUID } from 'node:crypto';
import { recordAudit } from '../../db/audit';
import { findProcess, insertProcess, listProcesses as listProcessRows, replaceAccess, touchProcess } from '../../db/processes';
import { decodeCursor, encodeCursor } from '../../domain/pagination';
import { withTenant } from '../../db/tenant-scope';
import { accountsOnCreate, grantsMoreAccess, resolveAccess, type AccessEntry, type CreateProcessInput, type ProcessArea, type UpdateProcessInput } from '../../domain/process';
import type { ClinicActor, Services, SessionActor } from '../deps';
import { withRefusalsLogged } from '../audit/refusals';
import { requireRecentProof } from '../auth/reauthenticate';
import { assertMayCreateProcess, assertPrincipals, enterProcess, visibleProcessIds } from './access';
import { openProcess, sealProcessName } from './process-record';

/**
 * Process areas: create, list, read, rename or change who may do what. Names are sealed before
 * the transaction and opened after it; changes are logged in the transaction that makes them.
 */
type Deps = Pick<Services, 'db' | 'vault'>;

const ids = (entries: AccessEntry[]) => entries.map((e) => e.id);
const rightCounts = (entries: AccessEntry[]) => ({
  read: entries.filter((e) => e.right === 'read').length,
  write: entries.filter((e) => e.right === 'write').length,
  manage: entries.filter((e) => e.right === 'manage').length,
});
/** An access list as the log keeps it: who (ids only) with which right, in a stable order. */
const logged = (entries: AccessEntry[]) => [...entries].sort((a, b) => a.id.localeCompare(b.id)).map((e) => ({ id: e.id, right: e.right }));
/** The list before and after, when it changed: who was given or lost which right must be readable from the log. */
const accessChange = (before: AccessEntry[], after: AccessEntry[]) =>
  JSON.stringify(logged(before)) === JSON.stringify(logged(after)) ? undefined : { before: logged(before), after: logged(after) };

export async function createProcess(deps: Deps, actor: ClinicActor, input: CreateProcessInput): Promise<ProcessArea> {
  assertMayCreateProcess(actor);
  const id = randomUUID();
  const nameSealed = await sealProcessName(deps.vault, actor.tenantId, id, input.name);
  const row = await withTenant(deps.db, actor.tenantId, async (trx) => {
    const accounts = accountsOnCreate(actor, input.accounts);
    const groups = resolveAccess(input.groups, []);
    await assertPrincipals(trx, ids(accounts), ids(groups));
    await insertProcess(trx, { id, nameSealed, createdBy: actor.accountId });
    await replaceAccess(trx, id, accounts, groups);
    const created = (await findProcess(trx, id))!;
    await recordAudit(trx, actor.audit, {
      action: 'process.create',
      outcome: 'success',
      targetType: 'process',
      targetId: id,
      details: {
        accounts: created.accounts.length,
        groups: created.groups.length,
        rights: rightCounts([...created.accounts, ...created.groups]),
        allowedAccounts: logged(created.accounts),
        allowedGroups: logged(created.groups),
      },
    });
    return created;
  });
  return openProcess(deps.vault, row);
}

/** The areas the caller may see, oldest first: all of them, or with a limit one page and the cursor of the next. */
export async function listProcesses(deps: Deps, actor: ClinicActor, page: { limit?: number; cursor?: string } = {}): Promise<{ items: ProcessArea[]; nextCursor: string | null }> {
  const after = decodeCursor(page.cursor);
  const { rows, next } = await withTenant(deps.db, actor.tenantId, async (trx) =>
    listProcessRows(trx, await visibleProcessIds(trx, actor), page.limit === undefined ? undefined : { limit: page.limit, after }),
  );
  return { items: await Promise.all(rows.map((row) => openProcess(deps.vault, row))), nextCursor: next && encodeCursor(next) };
}

export async function getProcess(deps: Deps, actor: ClinicActor, id: string): Promise<ProcessArea> {
  return openProcess(deps.vault, await withTenant(deps.db, actor.tenantId, (trx) => enterProcess(trx, actor, id, 'read')));
}

/**
 * Renaming an area and changing its access list need the `manage` right (clinic admins have it).
 * A list that gives anyone more (a new member, a higher right) also needs a password or passkey
 * proved in the last 5 minutes (403 reauthentication_required, logged as denied): it hands out
 * the area's records. Decided on the list as this transaction reads it.
 */
export async function updateProcess(deps: Deps & Pick<Services, 'log'>, actor: SessionActor, id: string, patch: UpdateProcessInput): Promise<ProcessArea> {
  const nameSealed = patch.name === undefined ? undefined : await sealProcessName(deps.vault, actor.tenantId, id, patch.name);
  const attempt = { action: 'process.update', targetType: 'process', targetId: id };
  const row = await withRefusalsLogged(deps, actor.tenantId, actor.audit, attempt, () => withTenant(deps.db, actor.tenantId, async (trx) => {
    // Held until commit: the proof's need is decided on the list as it will be changed.
    const current = await enterProcess(trx, actor, id, 'manage', undefined, { forUpdate: true });
    const changes: Record<string, unknown> = {};
    if (patch.accounts !== undefined || patch.groups !== undefined) {
      const accounts = patch.accounts ? resolveAccess(patch.accounts, current.accounts) : current.accounts;
      const groups = patch.groups ? resolveAccess(patch.groups, current.groups) : current.groups;
      if (grantsMoreAccess(current.accounts, accounts) || grantsMoreAccess(current.groups, groups)) await requireRecentProof(trx, actor);
      await assertPrincipals(trx, ids(accounts), ids(groups));
      await replaceAccess(trx, id, accounts, groups);
      const accountsChanged = accessChange(current.accounts, accounts);
      const groupsChanged = accessChange(current.groups, groups);
      if (accountsChanged) changes.allowedAccounts = accountsChanged;
      if (groupsChanged) changes.allowedGroups = groupsChanged;
    }
    await touchProcess(trx, id, nameSealed);
    const fields = [patch.name !== undefined && 'name', patch.accounts && 'allowedAccountIds', patch.groups && 'allowedGroupIds'].filter(Boolean);
    await recordAudit(trx, actor.audit, { action: 'process.update', outcome: 'success', targetType: 'process', targetId: id, details: { fields, ...changes } });
    return (await findProcess(trx, id))!;
  }));
  return openProcess(deps.vault, row);
}
