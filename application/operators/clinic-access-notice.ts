import { randomUUID } from 'node:crypto';
import type { ClinicAccessChange, ClinicAccessNotice } from '../../activities/clinic-access-notice';
import type { WorkflowIntent } from '../../db/outbox';
import { TENANT_ID } from '../../temporal/search-attributes';
import { clinicAccessNoticeWorkflowId } from '../../temporal/workflow-ids';

/**
 * The start of the notice that tells a clinic an operator opened a way into it (an administrator
 * created, the allowlist cleared), as an outbox intent of the transaction that did it: the clinic
 * hears of every such action, including one made with break-glass, and of none that rolled back.
 */
export function clinicAccessNotice(tenantId: string, change: ClinicAccessChange, accountId?: string): WorkflowIntent {
  const notice: ClinicAccessNotice = { tenantId, change, occurredAt: new Date().toISOString(), ...(accountId ? { accountId } : {}) };
  return {
    kind: 'start',
    workflowId: clinicAccessNoticeWorkflowId(randomUUID()),
    workflowType: 'clinicAccessNoticeWorkflow',
    args: [notice],
    searchAttributes: { [TENANT_ID.name]: tenantId },
  };
}
