import { ActivityFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

export interface IncidentReportInput {
  tenantId: string;
  reportId: string;
  mailTaskQueue: string;
}

const platform = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { maximumInterval: '1 minute', maximumAttempts: 60 } });

/**
 * A clinic's report of a suspected incident (`incident-report/<id>`): the report to the
 * operators' address and an acknowledgement to each contract address of the clinic, one
 * activity per recipient, exactly once each. The report's text stays in PostgreSQL.
 */
export async function incidentReportWorkflow(input: IncidentReportInput): Promise<{ recipients: number; sent: number; failed: number }> {
  const mail = proxyActivities<Activities>({
    taskQueue: input.mailTaskQueue,
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 30 },
  });
  const recipients = await platform.incidentReportRecipients({ tenantId: input.tenantId, reportId: input.reportId });
  let sent = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: recipients }, async (_, index) => {
      try {
        if ((await mail.sendIncidentReportMail({ tenantId: input.tenantId, reportId: input.reportId, index })) === 'sent') sent += 1;
        else failed += 1;
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        failed += 1;
      }
    }),
  );
  return { recipients, sent, failed };
}
