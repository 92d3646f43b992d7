import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { recordAuditNow } from '../../db/audit';
import { getTenant } from '../../db/tenants';
import { contractSettled } from '../../domain/contract';
import { conflict } from '../../domain/problems';
import { TENANT_ID } from '../../temporal/search-attributes';
import { keyRotationWorkflowId } from '../../temporal/workflow-ids';
import type { keyRotationWorkflow } from '../../workflows/key-rotation';
import type { Actor, Services } from '../deps';

/** Temporal answers within this, or the operator gets 503 instead of a hanging request. */
const START_DEADLINE_MS = 5_000;

/**
 * An operator rotates a clinic's master key. No database change belongs to the request (the
 * workflow makes them), so the start is direct, outside any transaction, and the log entry
 * follows a start that Temporal accepted. One rotation per clinic at a time (409).
 */
export async function rotateTenantKeys(deps: Pick<Services, 'db' | 'temporal' | 'taskQueue'>, actor: Actor, tenantId: string): Promise<{ workflowId: string }> {
  const tenant = await getTenant(deps.db, tenantId);
  // A rotation would make a new master key for a clinic whose keys the purge destroys.
  if (contractSettled(tenant.contractState)) throw conflict('purge_started', 'This clinic\'s data is being or has been deleted; its keys are destroyed, not rotated.');
  const workflowId = keyRotationWorkflowId(tenant.id);
  try {
    await deps.temporal.connection.withDeadline(Date.now() + START_DEADLINE_MS, () =>
      deps.temporal.client.workflow.start<typeof keyRotationWorkflow>('keyRotationWorkflow', {
        workflowId,
        taskQueue: deps.taskQueue,
        args: [tenant.id],
        typedSearchAttributes: [{ key: TENANT_ID, value: tenant.id }],
      }),
    );
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw conflict('rotation_in_progress', 'A key rotation for this clinic is already running.');
    throw err; // unreachable Temporal: the problem handler answers 503 with Retry-After
  }
  await recordAuditNow(deps.db, tenant.id, actor.audit, { action: 'keys.rotate', outcome: 'success', targetType: 'tenant', targetId: tenant.id, details: { workflowId } });
  return { workflowId };
}
