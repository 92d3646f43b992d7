import { recordAudit } from '../../db/audit';
import { recordOperatorAction } from '../../db/platform-log';
import { withTenant } from '../../db/tenant-scope';
import { updateTenant } from '../../db/tenants';
import type { Tenant, UpdateTenantInput } from '../../domain/tenant';
import { commitPlatformThenDispatch } from '../commit-then-dispatch';
import type { Actor, Services } from '../deps';
import { contractChangedIntent } from './contract-end-intent';

/**
 * An operator changes a clinic's name, contract addresses, status or contract end; the change and
 * its log entries commit together. A changed end also wakes (or starts) the clinic's contract-end
 * workflow after commit (outbox), which re-plans its notices and mails what was cancelled.
 *
 * The entry goes to the clinic's own log (its auditors see what the operators did to it) and, for
 * a suspension, a resumption or a new end, to the operators' log too: the purge deletes the
 * clinic's log, and who set the end that deleted a clinic's data must outlive it. A status the
 * clinic already has changes nothing and is logged as the plain update it was.
 */
export async function updateClinic(
  deps: Pick<Services, 'db' | 'outbox'> & { contract?: { graceSeconds: number } },
  actor: Actor,
  tenantId: string,
  patch: UpdateTenantInput,
): Promise<Tenant> {
  return commitPlatformThenDispatch(deps, async (trx, enqueue) => {
    const { tenant: updated, before, contractChanged } = await updateTenant(trx, tenantId, patch, { graceSec: deps.contract?.graceSeconds });
    const statusChanged = patch.status !== undefined && patch.status !== before.status;
    const entry = {
      action: statusChanged ? `tenant.${patch.status === 'suspended' ? 'suspend' : 'resume'}` : 'tenant.update',
      targetType: 'tenant',
      targetId: updated.id,
      details: {
        fields: Object.keys(patch),
        ...(statusChanged ? { from: before.status, to: updated.status } : {}),
        ...(contractChanged ? { contractEndsAt: updated.contractEndsAt, previousContractEndsAt: before.contractEndsAt } : {}),
      },
    };
    await withTenant(trx, updated.id, (t) => recordAudit(t, actor.audit, { ...entry, outcome: 'success' }));
    if (statusChanged || contractChanged) await recordOperatorAction(trx, actor.audit, entry);
    if (contractChanged) await enqueue(updated.id, contractChangedIntent(updated.id));
    return updated;
  });
}
