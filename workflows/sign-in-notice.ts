import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { SignInNotice, SignInNoticeReport } from '../activities/sign-in-notice';

const { sendSignInNotice } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  // Bounded: a few hours of mail or database outage, then the run fails visibly in the Temporal UI.
  // A notice days late would only alarm: the sessions list shows the sign-in anyway.
  retry: { initialInterval: '1 second', maximumInterval: '5 minutes', backoffCoefficient: 2, maximumAttempts: 60 },
});

export interface SignInNoticeResult extends SignInNoticeReport {
  accountId: string;
  sessionId: string;
}

/**
 * One sign-in from a device or network the account has not used lately
 * (`sign-in-notice/<session>`, started through the workflow outbox by the login that made the
 * session): tells the account's holder, once.
 */
export async function signInNoticeWorkflow(notice: SignInNotice): Promise<SignInNoticeResult> {
  const report = await sendSignInNotice(notice);
  return { accountId: notice.accountId, sessionId: notice.sessionId, ...report };
}
