import type { CountedFailure } from '../../domain/lockout';
import { operatorLockoutWorkflowId } from '../../temporal/workflow-ids';
import type { Enqueue } from '../commit-then-dispatch';

/**
 * The failure that locks an operator (at login or when changing their password) starts that
 * lockout's notice to the operator and the security addresses, through the outbox.
 */
export async function noticeOperatorLockout(enqueue: Enqueue, operatorId: string, counted: CountedFailure): Promise<void> {
  if (!counted.lockedNow) return;
  await enqueue({
    kind: 'start',
    workflowId: operatorLockoutWorkflowId(operatorId, counted.lockouts),
    workflowType: 'operatorLockoutWorkflow',
    args: [{ operatorId, lockout: counted.lockouts }],
  });
}
