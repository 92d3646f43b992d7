import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/common';
import { recordAudit } from '../../db/audit';
import { recordOperatorAction } from '../../db/platform-log';
import { withTenant } from '../../db/tenant-scope';
import { getTenant } from '../../db/tenants';
import { contractSettled } from '../../domain/contract';
import { conflict } from '../../domain/problems';
import { TENANT_ID } from '../../temporal/search-attributes';
import { tenantProvisioningWorkflowId } from '../../temporal/workflow-ids';
import type { tenantProvisioningWorkflow } from '../../workflows/tenant-provisioning';
import type { Actor, Services } from '../deps';

/** Temporal answers within this, or the operator gets 503 instead of a hanging request. */
const START_DEADLINE_MS = 5_000;

/**
 * An operator runs a clinic's provisioning again after its run ended without opening the clinic:
 * a contract address refused the welcome mail (fixed first with `PATCH contractEmails`), a day of
 * mail or database outage used up its retries, or someone terminated it in the Temporal UI.
 * Without this a clinic stuck in `provisioning` had no way out: the outbox starts provisioning
 * once per id, and an operator may not set the status.
 *
 * The new run keeps the workflow id, so the welcome mails' idempotency keys stay the same: an
 * address welcomed by an earlier run is not mailed again, a new one is. Temporal allows the id
 * again only after a run that failed, was terminated, timed out or was cancelled
 * (ALLOW_DUPLICATE_FAILED_ONLY); a running one answers 409 `provisioning_running`. No database
 * change belongs to the request (the workflow makes them), so, as for key rotation, the start is
 * direct, outside any transaction, and the log entries follow a start that Temporal accepted.
 */
export async function retryProvisioning(deps: Pick<Services, 'db' | 'temporal' | 'taskQueue'>, actor: Actor, tenantId: string): Promise<{ workflowId: string; runId: string }> {
  const tenant = await getTenant(deps.db, tenantId);
  if (contractSettled(tenant.contractState)) throw conflict('purge_started', 'This clinic\'s data is being or has been deleted.');
  if (tenant.status !== 'provisioning') throw conflict('not_provisioning', `This clinic is ${tenant.status}: its provisioning has finished.`);
  const workflowId = tenantProvisioningWorkflowId(tenant.id);
  let runId: string;
  try {
    const handle = await deps.temporal.connection.withDeadline(Date.now() + START_DEADLINE_MS, () =>
      deps.temporal.client.workflow.start<typeof tenantProvisioningWorkflow>('tenantProvisioningWorkflow', {
        workflowId,
        taskQueue: deps.taskQueue,
        args: [tenant.id],
        typedSearchAttributes: [{ key: TENANT_ID, value: tenant.id }],
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
      }),
    );
    runId = handle.firstExecutionRunId;
  } catch (err) {
    // Running (still retrying an outage: it reads the clinic's addresses afresh on every attempt),
    // or — in a race with its own end — just finished and opened the clinic.
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw conflict('provisioning_running', 'This clinic\'s provisioning is still running; see its workflow in the Temporal UI.');
    throw err; // unreachable Temporal: the problem handler answers 503 with Retry-After
  }
  const entry = { action: 'tenant.provisioning_retry', targetType: 'tenant', targetId: tenant.id, details: { workflowId, runId } };
  await deps.db.transaction(async (trx) => {
    await withTenant(trx, tenant.id, (t) => recordAudit(t, actor.audit, { ...entry, outcome: 'success' }));
    await recordOperatorAction(trx, actor.audit, entry);
  });
  return { workflowId, runId };
}
