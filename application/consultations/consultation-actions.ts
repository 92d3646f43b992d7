import { WorkflowNotFoundError, type UpdateDefinition } from '@temporalio/common';
import { consultationFieldContext } from '../../activities/consultations';
import { recordAudit } from '../../db/audit';
import { findConsultation, type ConsultationRow } from '../../db/consultations';
import { getPractitioner } from '../../db/practitioners';
import { assertOffered } from '../../domain/practitioner';
import { withTenant } from '../../db/tenant-scope';
import { isUuid } from '../../domain/ids';
import { badRequest, notFound, Problem, serviceUnavailable } from '../../domain/problems';
import {
  cancelUpdate,
  checkInUpdate,
  finishUpdate,
  joinUpdate,
  paymentUpdate,
  questionnaireUpdate,
  rescheduleUpdate,
  startUpdate,
  type UpdateResult,
} from '../../workflows/consultation-messages';
import type { ClinicActor, Services } from '../deps';
import { consultationEnded, problemFromWorkflowError } from '../workflow-failures';

/**
 * Everything that happens to a booked consultation is an update to its workflow, which accepts
 * or refuses it (409 invalid_transition) before we answer. Clinical text is sealed here, before
 * it goes anywhere near Temporal's history. No transaction is open while Temporal is called.
 */
type Deps = Pick<Services, 'db' | 'temporal' | 'outbox' | 'vault'>;

/** Temporal answers an update within this, or the caller gets 503 instead of hanging. */
const UPDATE_DEADLINE_MS = 5_000;

export async function loadConsultation(deps: Pick<Services, 'db'>, actor: ClinicActor, id: string): Promise<ConsultationRow> {
  const row = isUuid(id) ? await withTenant(deps.db, actor.tenantId, (trx) => findConsultation(trx, id)) : undefined;
  if (!row) throw notFound('No such consultation.');
  return row;
}

/** Sends the update; logs the outcome. Returns the workflow's answer and the row as the action left it. */
async function update<Args extends unknown[]>(
  deps: Deps,
  actor: ClinicActor,
  row: ConsultationRow,
  action: string,
  definition: UpdateDefinition<UpdateResult, Args>,
  args: Args,
): Promise<ActionResult> {
  const send = () =>
    deps.temporal.connection.withDeadline(Date.now() + UPDATE_DEADLINE_MS, () =>
      // The definitions are typed at each call below; the SDK's overloads cannot see through the generic.
      deps.temporal.client.workflow.getHandle(row.workflowId).executeUpdate(definition as unknown as UpdateDefinition<UpdateResult, [unknown]>, { args: args as unknown as [unknown] }),
    );
  const entry = (outcome: 'success' | 'denied', details?: Record<string, unknown>) =>
    ({ action: `consultation.${action}`, outcome, targetType: 'consultation', targetId: row.id, details }) as const;
  let result: UpdateResult;
  try {
    try {
      result = await send();
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      // Booked a moment ago and its start is still in the outbox: send it now, then retry once.
      const pending = await deps.outbox.dispatchWorkflow(row.workflowId);
      if (pending.failed > 0) throw serviceUnavailable('This consultation\'s workflow is still starting. Retry shortly.');
      if (pending.dispatched === 0) throw err;
      result = await send();
    }
  } catch (err) {
    const problem = err instanceof Problem ? err : problemFromWorkflowError(err, consultationEnded);
    if (problem.status < 500) await withTenant(deps.db, actor.tenantId, (trx) => recordAudit(trx, actor.audit, entry('denied', { code: problem.code })));
    throw problem;
  }
  // One transaction: the log entry, and the row as the action left it (payment, new times).
  const after = await withTenant(deps.db, actor.tenantId, async (trx) => {
    await recordAudit(trx, actor.audit, entry('success'));
    return findConsultation(trx, row.id);
  });
  return { row: after ?? row, result };
}

const seal = async (deps: Pick<Services, 'vault'>, row: ConsultationRow, field: 'questionnaire' | 'note' | 'prescriptions' | 'cancelReason', value: unknown) =>
  (await deps.vault.encryptText(row.tenantId, consultationFieldContext(row.id, field), typeof value === 'string' ? value : JSON.stringify(value))).toString('base64');

export interface ActionResult {
  row: ConsultationRow;
  result: UpdateResult;
}

const act =
  <I, Args extends unknown[]>(action: string, definition: UpdateDefinition<UpdateResult, Args>, argsOf: (deps: Deps, row: ConsultationRow, input: I) => Promise<Args>) =>
  async (deps: Deps, actor: ClinicActor, id: string, input: I): Promise<ActionResult> => {
    const row = await loadConsultation(deps, actor, id);
    return update(deps, actor, row, action, definition, await argsOf(deps, row, input));
  };

export const recordQuestionnaire = act('questionnaire', questionnaireUpdate, async (deps, row, answers: Record<string, unknown>) => [
  { answersSealed: await seal(deps, row, 'questionnaire', answers) },
]);
export const checkIn = act('check-in', checkInUpdate, async () => [] as []);
export const join = act('join', joinUpdate, async () => [] as []);
export const startConsultation = act('start', startUpdate, async () => [] as []);
export const finishConsultation = act('finish', finishUpdate, async (deps, row, input: { note: string; prescriptions: unknown[] }) => [
  { noteSealed: await seal(deps, row, 'note', input.note), prescriptionsSealed: await seal(deps, row, 'prescriptions', input.prescriptions) },
]);
export const recordPayment = act('payment', paymentUpdate, async (_deps, _row, input: { amount: number; method: string }) => [input] as [typeof input]);
export const cancelConsultation = act('cancel', cancelUpdate, async (deps, row, reason: string) => [{ reasonSealed: await seal(deps, row, 'cancelReason', reason) }]);
export const rescheduleConsultation = act('reschedule', rescheduleUpdate, async (deps, row, input: { startsAt: Date; now: Date }) => {
  if (input.startsAt.getTime() < input.now.getTime()) throw badRequest('slot_in_past', 'That slot has already begun.');
  const practitioner = await withTenant(deps.db, row.tenantId, (trx) => getPractitioner(trx, row.practitionerId));
  const endsAt = assertOffered(practitioner, input.startsAt, row.mode);
  return [{ startsAt: input.startsAt.toISOString(), endsAt: endsAt.toISOString() }] as [
    { startsAt: string; endsAt: string },
  ];
});
