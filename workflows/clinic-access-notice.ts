import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ClinicAccessNotice, ClinicAccessNoticeReport } from '../activities/clinic-access-notice';

const { sendClinicAccessNotice } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  // Bounded: about a day of mail or database outage, then the run fails visibly in the Temporal UI.
  retry: { initialInterval: '1 second', maximumInterval: '5 minutes', backoffCoefficient: 2, maximumAttempts: 300 },
});

/**
 * One operator action that opened a way into a clinic (`clinic-access-notice/<id>`, started
 * through the outbox by the transaction that did it): tells the clinic's contract addresses and
 * administrators, each once.
 */
export async function clinicAccessNoticeWorkflow(notice: ClinicAccessNotice): Promise<ClinicAccessNoticeReport> {
  return sendClinicAccessNotice(notice);
}
