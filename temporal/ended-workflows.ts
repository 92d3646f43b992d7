import { WorkflowNotFoundError, type Client, type WorkflowExecutionInfo } from '@temporalio/client';
import { isUuid } from '../domain/ids';
import { TENANT_ID } from './search-attributes';

/** How far back a pass looks for ended workflows, and how many it yields at most. */
const LOOK_BACK_MS = 24 * 3_600_000;
const MAX_PER_PASS = 1_000;

/**
 * Workflows of a type that ended without finishing their work — terminated (by an operator, or
 * by Temporal for an oversized history), failed or timed out — in the last day, at most 1,000 a
 * pass, with the clinic (search attribute `TenantId`) and the id after `<prefix>/`. The outbox
 * sweeper's passes use it to set the rows they left behind right (consultations, data exports).
 */
export async function* endedWorkflows(client: Client, workflowType: string, prefix: string): AsyncGenerator<{ tenantId: string; id: string; status: string; runId: string }> {
  const since = new Date(Date.now() - LOOK_BACK_MS).toISOString();
  const query = `WorkflowType = '${workflowType}' AND (ExecutionStatus = 'Terminated' OR ExecutionStatus = 'Failed' OR ExecutionStatus = 'TimedOut') AND CloseTime > '${since}'`;
  let seen = 0;
  for await (const w of client.workflow.list({ query, pageSize: 100 }) as AsyncIterable<WorkflowExecutionInfo>) {
    if (seen >= MAX_PER_PASS) return;
    seen += 1;
    const id = w.workflowId.startsWith(`${prefix}/`) ? w.workflowId.slice(prefix.length + 1) : '';
    const tenantId = w.typedSearchAttributes.get(TENANT_ID);
    if (tenantId && isUuid(tenantId) && isUuid(id)) yield { tenantId, id, status: w.status.name, runId: w.runId };
  }
}

/**
 * How the newest run of one workflow ended (`TERMINATED`, `FAILED`, `COMPLETED`, …), or
 * undefined while it runs or when Temporal has no such workflow (yet: an outbox start may still
 * be on its way, so "not found" is never taken for "ended").
 */
export async function endedStatus(client: Client, workflowId: string): Promise<string | undefined> {
  try {
    const { status } = await client.workflow.getHandle(workflowId).describe();
    return status.name === 'RUNNING' ? undefined : status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}
