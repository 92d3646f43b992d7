import { countNoticeMessages, insertNoticeMessage, setNoticeStatus } from '../../db/notices';
import { MAX_NOTICE_MESSAGES, statusMayFollow, type DeclareIncidentInput, type IncidentUpdateInput, type AffectedClinics } from '../../domain/notices';
import { conflict } from '../../domain/problems';
import { INCIDENT_ID, SEVERITY } from '../../temporal/search-attributes';
import { incidentWorkflowId } from '../../temporal/workflow-ids';
import type { IncidentWorkflowInput } from '../../workflows/incident';
import type { Actor } from '../deps';
import { addTargets, lockedNotice, mailTaskQueue, noticeChanged, openNotice, platformCommand, type NoticeDeps, type NoticeStart } from './notice-commands';

/**
 * An operator declares a security incident: the incident, its first message and its target
 * clinics commit with the start of `incident/<id>` (ids only; the texts stay in PostgreSQL).
 */
export async function declareIncident(deps: NoticeDeps, actor: Actor, input: DeclareIncidentInput): Promise<{ id: string; reference: string; workflowId: string }> {
  return platformCommand(deps, actor, (trx, ctx) =>
    openNotice(trx, ctx, {
      kind: 'incident',
      title: input.title,
      body: input.description,
      severity: input.severity,
      status: 'investigating',
      firstStatus: 'investigating',
      detectedAt: input.detectedAt,
      targets: input.affectedTenantIds,
      workflowIdOf: incidentWorkflowId,
      action: 'incident.declare',
      details: { severity: input.severity },
      start: (id) => incidentStart(deps, id, input.severity),
    }),
  );
}

/** The incident's workflow: ids and the severity only (the texts stay in PostgreSQL). */
const incidentStart = (deps: NoticeDeps, incidentId: string, severity: string): NoticeStart => ({
  workflowType: 'incidentNotificationWorkflow',
  args: [{ incidentId, mailTaskQueue: mailTaskQueue(deps) }] satisfies [IncidentWorkflowInput],
  searchAttributes: { [INCIDENT_ID.name]: incidentId, [SEVERITY.name]: severity },
});

const resolvedAlready = () => conflict('incident_resolved', 'This incident is resolved; declare a new incident instead.');

/** A follow-up: mailed to every clinic the incident reached (and later ones); `resolved` ends it. */
export async function postIncidentUpdate(deps: NoticeDeps, actor: Actor, incidentId: string, input: IncidentUpdateInput): Promise<{ id: string; seq: number; status: string }> {
  return platformCommand(deps, actor, async (trx, { audit, enqueue }) => {
    const incident = await lockedNotice(trx, incidentId, 'incident');
    if (incident.closedAt) throw resolvedAlready();
    if (!statusMayFollow(incident.status, input.status)) throw conflict('invalid_transition', `An incident that is ${incident.status} cannot go back to ${input.status}.`);
    if ((await countNoticeMessages(trx, incidentId)) >= MAX_NOTICE_MESSAGES) throw conflict('too_many_updates', `An incident has at most ${MAX_NOTICE_MESSAGES} messages.`);
    const message = await insertNoticeMessage(trx, { noticeId: incidentId, kind: 'update', status: input.status, body: input.message });
    await setNoticeStatus(trx, incidentId, input.status, input.status === 'resolved');
    await audit({ action: 'incident.update', outcome: 'success', targetType: 'incident', targetId: incidentId, details: { reference: incident.reference, status: input.status, messageSeq: message.seq } });
    await enqueue(noticeChanged(incident.workflowId!, incidentStart(deps, incidentId, incident.severity!)));
    return { id: message.id, seq: message.seq, status: input.status };
  });
}

/** More clinics turn out to be affected: they get every message so far, then the later ones. */
export async function addIncidentClinics(deps: NoticeDeps, actor: Actor, incidentId: string, clinics: AffectedClinics): Promise<{ id: string; added: number }> {
  return platformCommand(deps, actor, async (trx, { audit, enqueue }) => {
    const incident = await lockedNotice(trx, incidentId, 'incident');
    if (incident.closedAt) throw resolvedAlready();
    const added = await addTargets(trx, incidentId, clinics);
    await audit({ action: 'incident.clinics.add', outcome: 'success', targetType: 'incident', targetId: incidentId, details: { reference: incident.reference, added, allClinics: clinics === 'all' } });
    if (added > 0) await enqueue(noticeChanged(incident.workflowId!, incidentStart(deps, incidentId, incident.severity!)));
    return { id: incidentId, added };
  });
}
