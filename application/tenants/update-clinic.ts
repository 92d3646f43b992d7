import { recordAudit } from '../../db/audit';
import { withTenant } from '../../db/tenant-scope';
import { updateTenant } from '../../db/tenants';
import type { Tenant, UpdateTenantInput } from '../../domain/tenant';
import { commitPlatformThenDispatch } from '../commit-then-dispatch';
import type { Actor, Services } from '../deps';

/** An operator changes a clinic's name, contract addresses or status; the change and its log entry commit together. */
export async function updateClinic(deps: Pick<Services, 'db' | 'outbox'>, actor: Actor, tenantId: string, patch: UpdateTenantInput): Promise<Tenant> {
  return commitPlatformThenDispatch(deps, async (trx) => {
    const updated = await updateTenant(trx, tenantId, patch);
    await withTenant(trx, updated.id, (t) =>
      recordAudit(t, actor.audit, {
        action: patch.status ? `tenant.${patch.status === 'suspended' ? 'suspend' : 'resume'}` : 'tenant.update',
        outcome: 'success',
        targetType: 'tenant',
        targetId: updated.id,
        details: { fields: Object.keys(patch) },
      }),
    );
    return updated;
  });
}
