import { randomUUID } from 'node:crypto';
import type { AuditContext } from '../../db/audit';
import { enqueueWorkflow, type OutboxRow, type WorkflowIntent } from '../../db/outbox';
import { withPlatform, type PlatformTransaction } from '../../db/platform-scope';
import { isUuid } from '../../domain/ids';
import type { OperatorRole } from '../../domain/operator-roles';
import { operatorAccessNoticeWorkflowId } from '../../temporal/workflow-ids';
import type { OperatorAccessNoticeInput } from '../../workflows/operator-access-notice';
import type { Services } from '../deps';

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

/**
 * A platform transaction whose workflow intents are sent after commit when an outbox is at hand
 * (the API); without one (`npm run operator` on the host) the rows are committed all the same and
 * the sweeper sends them within a minute or two.
 */
export async function withPlatformOutbox<T>(
  deps: Pick<Services, 'db'> & Partial<Pick<Services, 'outbox'>>,
  work: (trx: PlatformTransaction, enqueue: (intent: WorkflowIntent) => Promise<void>) => Promise<T>,
): Promise<T> {
  const rows: OutboxRow[] = [];
  const result = await withPlatform(deps.db, (trx) => work(trx, async (intent) => void rows.push(await enqueueWorkflow(trx, null, intent))));
  if (deps.outbox && rows.length) await deps.outbox.dispatchCommitted(rows);
  return result;
}
