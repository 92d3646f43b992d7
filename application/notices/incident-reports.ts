import { recordAudit, recordAuditNow } from '../../db/audit';
import { insertIncidentReport } from '../../db/notices';
import { refundRateLimits, takeRateLimits } from '../../db/rate-limit';
import { INCIDENT_REPORT_LIMITS } from '../../domain/notices';
import { tooManyRequests } from '../../domain/problems';
import { incidentReportWorkflowId } from '../../temporal/workflow-ids';
import type { IncidentReportInput } from '../../workflows/incident-report';
import { commitThenDispatch } from '../commit-then-dispatch';
import type { ClinicActor, Services } from '../deps';
import { mailTaskQueue } from './notice-commands';

/**
 * Any signed-in user reports a suspected incident: the report (in the clinic's own, isolated
 * table), the clinic's operation-log entry and the start of `incident-report/<id>` commit
 * together; the workflow mails the operators and acknowledges to the contract addresses. Reports
 * are limited per person and per clinic (INCIDENT_REPORT_LIMITS): past either, 429 rate_limited
 * with Retry-After, and the refusal is logged.
 */
export async function reportIncident(
  deps: Pick<Services, 'db' | 'outbox' | 'taskQueue'>,
  actor: ClinicActor,
  input: { description: string; contact: string },
): Promise<{ id: string; reference: string; workflowId: string }> {
  const { windowSeconds, perAccount, perClinic } = INCIDENT_REPORT_LIMITS;
  // The clinic's id in both keys, so its purge forgets them (forgetClinicRateLimits). The person's
  // limit is taken first and the clinic's only within it: one account's refused flood never
  // counts against the clinic, so it cannot crowd out a colleague's report.
  const throttles = [
    { key: `incident_report:account:${actor.tenantId}:${actor.accountId}`, limit: perAccount },
    { key: `incident_report:clinic:${actor.tenantId}`, limit: perClinic },
  ];
  // Each taken before the report (so a burst sent at once is held to it), given back when refused or failed.
  const taken: Array<{ key: string; windowStart: Date }> = [];
  const giveBack = () => Promise.all(taken.map((t) => refundRateLimits(deps.db, [t.key], t.windowStart)));
  for (const throttle of throttles) {
    const { counts, windowStart, retryAfter } = await takeRateLimits(deps.db, [throttle.key], windowSeconds);
    taken.push({ key: throttle.key, windowStart });
    if (counts.get(throttle.key)! > throttle.limit) {
      await giveBack();
      await recordAuditNow(deps.db, actor.tenantId, actor.audit, { action: 'incident_report.create', outcome: 'denied', details: { reason: 'rate_limited' } });
      throw tooManyRequests('rate_limited', `At most ${perAccount} reports per person and ${perClinic} per clinic in an hour. Everything reported so far has reached the operators; try again later.`, retryAfter([throttle]));
    }
  }
  try {
    return await fileReport(deps, actor, input);
  } catch (err) {
    await giveBack().catch(() => undefined);
    throw err;
  }
}

async function fileReport(deps: Pick<Services, 'db' | 'outbox' | 'taskQueue'>, actor: ClinicActor, input: { description: string; contact: string }) {
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
