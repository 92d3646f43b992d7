import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const { sendOperatorLockoutNotice } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  // Bounded: about a day of mail or database outage, then the run fails visibly in the Temporal UI.
  retry: { initialInterval: '1 second', maximumInterval: '5 minutes', backoffCoefficient: 2, maximumAttempts: 300 },
});

export interface OperatorLockoutInput {
  operatorId: string;
  /** The lockout's number on the operator (`operators.lockouts`): one notice per lockout. */
  lockout: number;
}

export interface OperatorLockoutResult {
  /** `mailed` (by this run or an earlier attempt), `operator_missing`. */
  outcome: 'mailed' | 'operator_missing';
  mailed: number;
}

/**
 * One lockout of an operator (`operator-lockout/<operator>/<n>`, started through the outbox by
 * the failure that locked): tells the operator and the security addresses, once.
 */
export async function operatorLockoutWorkflow(input: OperatorLockoutInput): Promise<OperatorLockoutResult> {
  return sendOperatorLockoutNotice(input);
}
