import { recordAudit } from '../../db/audit';
import { withTenant } from '../../db/tenant-scope';
import { updateTenant } from '../../db/tenants';
import type { Tenant, UpdateTenantInput } from '../../domain/tenant';
import { commitPlatformThenDispatch } from '../commit-then-dispatch';
import type { Actor, Services } from '../deps';
import { contractChangedIntent } from './contract-end-intent';

/**
 * An operator changes a clinic's name, contract addresses, status or contract end; the change and
 * its log entry commit together. A changed end also wakes (or starts) the clinic's contract-end
 * workflow after commit (outbox), which re-plans its notices and mails what was cancelled.
 */
export async function updateClinic(
  deps: Pick<Services, 'db' | 'outbox'> & { contract?: { graceSeconds: number } },
  actor: Actor,
  tenantId: string,
  patch: UpdateTenantInput,
): Promise<Tenant> {
  return commitPlatformThenDispatch(deps, async (trx, enqueue) => {
    const { tenant: updated, contractChanged } = await updateTenant(trx, tenantId, patch, { graceSec: deps.contract?.graceSeconds });
    await withTenant(trx, updated.id, (t) =>
      recordAudit(t, actor.audit, {
        action: patch.status ? `tenant.${patch.status === 'suspended' ? 'suspend' : 'resume'}` : 'tenant.update',
        outcome: 'success',
        targetType: 'tenant',
        targetId: updated.id,
        details: { fields: Object.keys(patch), ...(contractChanged ? { contractEndsAt: updated.contractEndsAt } : {}) },
      }),
    );
    if (contractChanged) await enqueue(updated.id, contractChangedIntent(updated.id));
    return updated;
  });
}
