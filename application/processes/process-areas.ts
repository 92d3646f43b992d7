import { randomUUID } from 'node:crypto';
import { recordAudit } from '../../db/audit';
import { findProcess, insertProcess, listProcesses as listProcessRows, replaceAccess, touchProcess } from '../../db/processes';
import { withTenant } from '../../db/tenant-scope';
import { accountsAllowedOnCreate, type CreateProcessInput, type ProcessArea, type UpdateProcessInput } from '../../domain/process';
import type { ClinicActor, Services } from '../deps';
import { assertPrincipals, enterProcess, visibleProcessIds } from './access';
import { openProcess, sealProcessName } from './process-record';

/**
 * Process areas: create, list, read, rename or change who may enter. Names are sealed before
 * the transaction and opened after it; changes are logged in the transaction that makes them.
 */
type Deps = Pick<Services, 'db' | 'vault'>;

export async function createProcess(deps: Deps, actor: ClinicActor, input: CreateProcessInput): Promise<ProcessArea> {
  const id = randomUUID();
  const nameSealed = await sealProcessName(deps.vault, actor.tenantId, id, input.name);
  const row = await withTenant(deps.db, actor.tenantId, async (trx) => {
    const accounts = accountsAllowedOnCreate(actor, input.allowedAccountIds);
    await assertPrincipals(trx, accounts, input.allowedGroupIds);
    await insertProcess(trx, { id, nameSealed, createdBy: actor.accountId });
    await replaceAccess(trx, id, accounts, input.allowedGroupIds);
    const created = (await findProcess(trx, id))!;
    await recordAudit(trx, actor.audit, {
      action: 'process.create',
      outcome: 'success',
      targetType: 'process',
      targetId: id,
      details: { accounts: created.allowedAccountIds.length, groups: created.allowedGroupIds.length },
    });
    return created;
  });
  return openProcess(deps.vault, row);
}

export async function listProcesses(deps: Deps, actor: ClinicActor): Promise<ProcessArea[]> {
  const rows = await withTenant(deps.db, actor.tenantId, async (trx) => listProcessRows(trx, await visibleProcessIds(trx, actor)));
  return Promise.all(rows.map((row) => openProcess(deps.vault, row)));
}

export async function getProcess(deps: Deps, actor: ClinicActor, id: string): Promise<ProcessArea> {
  return openProcess(deps.vault, await withTenant(deps.db, actor.tenantId, (trx) => enterProcess(trx, actor, id)));
}

export async function updateProcess(deps: Deps, actor: ClinicActor, id: string, patch: UpdateProcessInput): Promise<ProcessArea> {
  const nameSealed = patch.name === undefined ? undefined : await sealProcessName(deps.vault, actor.tenantId, id, patch.name);
  const row = await withTenant(deps.db, actor.tenantId, async (trx) => {
    const current = await enterProcess(trx, actor, id);
    if (patch.allowedAccountIds !== undefined || patch.allowedGroupIds !== undefined) {
      const accounts = patch.allowedAccountIds ?? current.allowedAccountIds;
      const groups = patch.allowedGroupIds ?? current.allowedGroupIds;
      await assertPrincipals(trx, accounts, groups);
      await replaceAccess(trx, id, accounts, groups);
    }
    await touchProcess(trx, id, nameSealed);
    await recordAudit(trx, actor.audit, { action: 'process.update', outcome: 'success', targetType: 'process', targetId: id, details: { fields: Object.keys(patch) } });
    return (await findProcess(trx, id))!;
  });
  return openProcess(deps.vault, row);
}
