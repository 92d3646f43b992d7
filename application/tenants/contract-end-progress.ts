import { getTenant } from '../../db/tenants';
import type { Tenant } from '../../domain/tenant';
import { contractEndWorkflowId } from '../../temporal/workflow-ids';
import { contractEndProgressQuery, type ContractEndProgress } from '../../workflows/contract-end-messages';
import type { Services } from '../deps';

export interface ContractEndView {
  tenantId: string;
  /** The stored contract: the authority on read-only and on what the workflow does next. */
  contractState: Tenant['contractState'];
  contractEndsAt: string | null;
  legalHold: Tenant['legalHold'];
  workflowId: string;
  /** The workflow's own answer (the step it waits for and when); null when no run is open or it did not answer in time. */
  live: ContractEndProgress | null;
}

/** The workflow answers within this, or the view shows the stored contract alone. */
const QUERY_DEADLINE_MS = 2_000;

/**
 * Where a clinic's contract end stands, for operators: the stored contract and what its workflow
 * waits for next (announcement, reminder, end, purge — with its date, later after a lifted hold —
 * or a legal hold). A read of platform data; nothing clinical.
 */
export async function contractEndProgress(deps: Pick<Services, 'db' | 'temporal'>, tenantId: string): Promise<ContractEndView> {
  const tenant = await getTenant(deps.db, tenantId);
  const workflowId = contractEndWorkflowId(tenant.id);
  const live = await deps.temporal.connection
    .withDeadline(Date.now() + QUERY_DEADLINE_MS, async () => {
      const handle = deps.temporal.client.workflow.getHandle(workflowId);
      // A closed run answers queries from its last state: only an open one says what comes next.
      const { status } = await handle.describe();
      return status.name === 'RUNNING' ? handle.query(contractEndProgressQuery) : null;
    })
    // No run yet (no end was ever set), no answer in time, or Temporal down: the stored contract still answers.
    .catch(() => null);
  return { tenantId: tenant.id, contractState: tenant.contractState, contractEndsAt: tenant.contractEndsAt, legalHold: tenant.legalHold, workflowId, live };
}
