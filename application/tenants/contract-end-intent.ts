import type { WorkflowIntent } from '../../db/outbox';
import { TENANT_ID } from '../../temporal/search-attributes';
import { contractEndWorkflowId } from '../../temporal/workflow-ids';
import { CONTRACT_CHANGED } from '../../workflows/contract-end-messages';

/**
 * "The contract of this clinic changed": starts its contract-end workflow if none runs, else
 * wakes it to reload the contract from the database. Ids only in the workflow's input.
 */
export const contractChangedIntent = (tenantId: string): WorkflowIntent => ({
  kind: 'signal_with_start',
  workflowId: contractEndWorkflowId(tenantId),
  workflowType: 'contractEndWorkflow',
  args: [{ tenantId }],
  signal: CONTRACT_CHANGED,
  searchAttributes: { [TENANT_ID.name]: tenantId },
});
