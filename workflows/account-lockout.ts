import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { LockoutNotice } from '../activities/account-lockout';

const { sendLockoutNotices } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  // Bounded: about a day of mail or database outage, then the run fails visibly in the Temporal UI.
  retry: { initialInterval: '1 second', maximumInterval: '5 minutes', backoffCoefficient: 2, maximumAttempts: 300 },
});

export interface LockoutNoticeResult {
  accountId: string;
  lockout: number;
  /** Mails sent by this run and refused addresses (see email_deliveries). */
  sent: number;
  refused: number;
  /** `account_missing`: the account (or its clinic) was gone before anyone could be told. */
  outcome: 'notified' | 'account_missing';
}

/**
 * One lockout of an account (`account-lockout/<account>/<n>`, started through the workflow
 * outbox by the failure that locked it): tells its holder and the clinic's administrators, each
 * exactly once.
 */
export async function accountLockoutWorkflow(notice: LockoutNotice): Promise<LockoutNoticeResult> {
  const { sent, refused, accountMissing } = await sendLockoutNotices(notice);
  return { accountId: notice.accountId, lockout: notice.lockout, sent, refused, outcome: accountMissing ? 'account_missing' : 'notified' };
}
