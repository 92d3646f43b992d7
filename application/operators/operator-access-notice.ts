import { randomUUID } from 'node:crypto';
import type { AuditContext } from '../../db/audit';
import type { WorkflowIntent } from '../../db/outbox';
import { isUuid } from '../../domain/ids';
import type { OperatorRole } from '../../domain/operator-roles';
import { operatorAccessNoticeWorkflowId } from '../../temporal/workflow-ids';
import type { OperatorAccessNoticeInput } from '../../workflows/operator-access-notice';

/**
 * The notice to the security addresses of a widening of operator access, as an outbox intent of
 * the transaction that made it: every operator created, role given and API key made is heard of
 * by a second person, whoever made it (a person, break-glass, the host), and none that rolled back.
 */
export function operatorAccessNotice(audit: AuditContext, change: OperatorAccessNoticeInput['change'], targetId: string, roles: OperatorRole[]): WorkflowIntent {
  const input: OperatorAccessNoticeInput = {
    change,
    targetId,
    roles,
    actorId: audit.actorId && isUuid(audit.actorId) ? audit.actorId : null,
    via: audit.actorId === 'break-glass' ? 'break-glass' : audit.actorType === 'system' ? 'host' : 'session',
    occurredAt: new Date().toISOString(),
  };
  return { kind: 'start', workflowId: operatorAccessNoticeWorkflowId(randomUUID()), workflowType: 'operatorAccessNoticeWorkflow', args: [input] };
}
