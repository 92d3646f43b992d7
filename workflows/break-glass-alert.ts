import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const { sendBreakGlassAlert } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  // Bounded: about a day of mail or database outage, then the run fails visibly in the Temporal UI.
  retry: { initialInterval: '1 second', maximumInterval: '5 minutes', backoffCoefficient: 2, maximumAttempts: 300 },
});

export interface BreakGlassAlertInput {
  /** ISO 8601: the start of the alert window (ids and times only, never who or what). */
  windowStart: string;
}

export interface BreakGlassAlertResult {
  /** `mailed` (this run or an earlier attempt), `no_recipients` (SECURITY_EMAILS empty), `window_missing`. */
  outcome: 'mailed' | 'no_recipients' | 'window_missing';
  mailed: number;
}

/**
 * One window of break-glass use (`break-glass-alert/<window id>`, started through the outbox
 * by the window's first use): mails the security addresses once.
 */
export async function breakGlassAlertWorkflow(input: BreakGlassAlertInput): Promise<BreakGlassAlertResult> {
  return sendBreakGlassAlert(input);
}
