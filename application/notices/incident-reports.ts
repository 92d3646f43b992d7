import { recordAudit } from '../../db/audit';
import { insertIncidentReport } from '../../db/notices';
import { incidentReportWorkflowId } from '../../temporal/workflow-ids';
import type { IncidentReportInput } from '../../workflows/incident-report';
import { commitThenDispatch } from '../commit-then-dispatch';
import type { ClinicActor, Services } from '../deps';
import { mailTaskQueue } from './notice-commands';

/**
 * Any signed-in user reports a suspected incident: the report (in the clinic's own, isolated
 * table), the clinic's operation-log entry and the start of `incident-report/<id>` commit
 * together; the workflow mails the operators and acknowledges to the contract addresses.
 */
export async function reportIncident(
  deps: Pick<Services, 'db' | 'outbox' | 'taskQueue'>,
  actor: ClinicActor,
  input: { description: string; contact: string },
): Promise<{ id: string; reference: string; workflowId: string }> {
  return commitThenDispatch(deps, actor.tenantId, async (trx, enqueue) => {
    const report = await insertIncidentReport(trx, { accountId: actor.accountId, ...input });
    const workflowId = incidentReportWorkflowId(report.id);
    const args: [IncidentReportInput] = [{ tenantId: actor.tenantId, reportId: report.id, mailTaskQueue: mailTaskQueue(deps) }];
    await enqueue({ kind: 'start', workflowId, workflowType: 'incidentReportWorkflow', args });
    // Last: the entry holds the clinic's log-chain head until commit.
    await recordAudit(trx, actor.audit, { action: 'incident_report.create', outcome: 'success', targetType: 'incident_report', targetId: report.id, details: { reference: report.reference } });
    return { ...report, workflowId };
  });
}
