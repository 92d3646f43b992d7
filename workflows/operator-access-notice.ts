import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { OperatorRole } from '../domain/operator-roles';

const { sendOperatorAccessNotice } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  // Bounded: about a day of mail or database outage, then the run fails visibly in the Temporal UI.
  retry: { initialInterval: '1 second', maximumInterval: '5 minutes', backoffCoefficient: 2, maximumAttempts: 300 },
});

/** Ids, roles and a time only: the activity reads names and addresses from PostgreSQL. */
export interface OperatorAccessNoticeInput {
  change: 'operator_created' | 'roles_given' | 'operator_reenabled' | 'operator_reset' | 'api_key_created';
  /** The operator created or given roles, or the API key made. */
  targetId: string;
  /** The roles the change gave (for roles_given, only those the operator did not have; re-enabled or reset: all it holds). */
  roles: OperatorRole[];
  /** The operator who did it; null for break-glass or the host's `npm run operator`. */
  actorId: string | null;
  /** `session`, `break-glass` or `host`. */
  via: string;
  /** ISO 8601. */
  occurredAt: string;
}

export interface OperatorAccessNoticeResult {
  /** `mailed`; `no_recipients` (SECURITY_EMAILS empty); `target_missing`. */
  outcome: 'mailed' | 'no_recipients' | 'target_missing';
  mailed: number;
}

/**
 * One widening of operator access (`operator-access-notice/<id>`, started through the outbox by
 * the transaction that made it): tells the security addresses who gave what to whom, so that a
 * second person hears of every operator, role and key, whoever made it (a platform admin could
 * otherwise make an operator for themselves with the `security` role and sign in as it).
 */
export async function operatorAccessNoticeWorkflow(input: OperatorAccessNoticeInput): Promise<OperatorAccessNoticeResult> {
  return sendOperatorAccessNotice(input);
}
