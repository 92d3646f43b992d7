import { recordAudit } from '../../db/audit';
import { recordOperatorAction } from '../../db/platform-log';
import { withTenant } from '../../db/tenant-scope';
import { insertTenant } from '../../db/tenants';
import type { CreateTenantInput, Tenant } from '../../domain/tenant';
import { TENANT_ID } from '../../temporal/search-attributes';
import { tenantProvisioningWorkflowId } from '../../temporal/workflow-ids';
import { commitPlatformThenDispatch } from '../commit-then-dispatch';
import type { Actor, Services } from '../deps';

/**
 * An operator registers a clinic: the row, its operation-log entries (the clinic's, and the
 * operators', which outlives the clinic's purge and ties its id to its slug) and the provisioning
 * workflow's start commit together; the workflow is started after commit.
 */
export async function createClinic(deps: Pick<Services, 'db' | 'outbox'>, actor: Actor, input: CreateTenantInput): Promise<Tenant> {
  return commitPlatformThenDispatch(deps, async (trx, enqueue) => {
    const created = await insertTenant(trx, input);
    const entry = { action: 'tenant.create', targetType: 'tenant', targetId: created.id, details: { slug: created.slug } };
    await withTenant(trx, created.id, (t) => recordAudit(t, actor.audit, { ...entry, outcome: 'success' }));
    await recordOperatorAction(trx, actor.audit, entry);
    await enqueue(created.id, {
      kind: 'start',
      workflowId: tenantProvisioningWorkflowId(created.id),
      workflowType: 'tenantProvisioningWorkflow',
      args: [created.id],
      searchAttributes: { [TENANT_ID.name]: created.id },
    });
    return created;
  });
}
