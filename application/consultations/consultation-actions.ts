import { createHash, createHmac } from 'node:crypto';
import { WorkflowNotFoundError, type UpdateDefinition } from '@temporalio/common';
import { consultationFieldContext } from '../../activities/consultations';
import { recordAudit } from '../../db/audit';
import { claimActionKey, deletePayloads, markActionKeyDone, findConsultation, storePayload, type ConsultationRow, type SealedField } from '../../db/consultations';
import { canonicalJson } from '../../domain/canonical-json';
import { getPractitioner } from '../../db/practitioners';
import { assertOffered } from '../../domain/practitioner';
import { withTenant } from '../../db/tenant-scope';
import { isUuid } from '../../domain/ids';
import { badRequest, conflict, forbidden, notFound, payloadTooLarge, Problem, serviceUnavailable } from '../../domain/problems';
import {
  cancelUpdate,
  checkInUpdate,
  finishUpdate,
  joinUpdate,
  paymentUpdate,
  questionnaireUpdate,
  rescheduleUpdate,
  startUpdate,
  MAX_UPDATE_ARGS_BYTES,
  type UpdateResult,
} from '../../workflows/consultation-messages';
import { withRefusalsLogged } from '../audit/refusals';
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
  opts: ActionOptions = {},
): Promise<ActionResult> {
  // The client's key names the update: Temporal answers a repeated update id with the first
  // update's outcome instead of running the handler again, so a retried request acts once. Hashed,
  // because the key is the client's text and the id is kept in the workflow's history.
  const keyHash = opts.idempotencyKey === undefined ? undefined : createHash('sha256').update(opts.idempotencyKey, 'utf8').digest('base64url');
  const updateId = keyHash === undefined ? undefined : `${action}:${keyHash}`;
  const send = () =>
    deps.temporal.connection.withDeadline(Date.now() + UPDATE_DEADLINE_MS, () =>
      // The definitions are typed at each call below; the SDK's overloads cannot see through the generic.
      deps.temporal.client.workflow.getHandle(row.workflowId).executeUpdate(definition as unknown as UpdateDefinition<UpdateResult, [unknown]>, { args: args as unknown as [unknown], updateId }),
    );
  const attempt = { action: `consultation.${action}`, targetType: 'consultation', targetId: row.id } as const;
  const sendOnce = async (): Promise<UpdateResult> => {
    // Temporal would answer a repeat with the first outcome whatever it carried: a key used for a
    // different request is refused before anything is sent, not answered as if it had been done.
    if (keyHash !== undefined && opts.requestHash !== undefined) {
      const k = { consultationId: row.id, action, keyHash, requestHash: opts.requestHash };
      const claim = await withTenant(deps.db, actor.tenantId, (trx) => claimActionKey(trx, k));
      if (claim === 'reused') throw conflict('idempotency_key_reused', 'This Idempotency-Key was used for a different request to this consultation; send a new key for a new request.');
    }
    try {
      return await send();
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      // Booked a moment ago and its start is still in the outbox: send it now, then retry once.
      const pending = await deps.outbox.dispatchWorkflow(row.workflowId);
      if (pending.failed > 0) throw serviceUnavailable('This consultation\'s workflow is still starting. Retry shortly.');
      if (pending.dispatched === 0) throw err;
      return await send();
    }
  };
  // A refusal (the workflow's, or a reused key) is logged as denied with its code, as every refused change is.
  const result = await withRefusalsLogged(deps, actor.tenantId, actor.audit, attempt, () =>
    sendOnce().catch((err: unknown) => {
      throw err instanceof Problem ? err : problemFromWorkflowError(err, consultationEnded);
    }),
  );
  // One transaction: the log entry, and the row as the action left it (payment, new times).
  const after = await withTenant(deps.db, actor.tenantId, async (trx) => {
    // A repeat of a request already answered with the action is logged as one (that request's entry
    // says what was done). A retry after a refusal or an unanswered attempt is the one that did it:
    // the workflow runs a rejected update id afresh, and the earlier attempt logged no success.
    const repeated = keyHash !== undefined && opts.requestHash !== undefined && !(await markActionKeyDone(trx, { consultationId: row.id, keyHash }));
    await recordAudit(trx, actor.audit, { ...attempt, outcome: 'success', details: repeated ? { repeated: true } : undefined });
    return findConsultation(trx, row.id);
  });
  return { row: after ?? row, result };
}

/**
 * Seals clinical content and stores it for the workflow to pick up: the update carries only the
 * payload's id. Ids stored for an action are deleted again if the workflow refuses it.
 */
type Stash = (field: SealedField, value: unknown) => Promise<string>;
const stasher = (deps: Pick<Services, 'vault' | 'db'>, row: ConsultationRow, stored: string[]): Stash => async (field, value) => {
  const sealed = await deps.vault.encryptText(row.tenantId, consultationFieldContext(row.id, field), typeof value === 'string' ? value : JSON.stringify(value));
  const id = await withTenant(deps.db, row.tenantId, (trx) => storePayload(trx, row.id, field, sealed));
  stored.push(id);
  return id;
};

export interface ActionResult {
  row: ConsultationRow;
  result: UpdateResult;
}

export interface ActionOptions {
  /** The request's Idempotency-Key: a repeat with the same key answers the first outcome. */
  idempotencyKey?: string;
  /** What the key stands for (set by `act` from the request): the same key with another request is refused. */
  requestHash?: string;
}

/**
 * The request a key stands for: an HMAC under the key itself of the action and its input, so the
 * stored hash does not fingerprint clinical text for anyone without the client's key. No body
 * and an empty object are the same request (the API treats them alike).
 */
const requestHashOf = (key: string, action: string, request: unknown) => createHmac('sha256', key).update(canonicalJson({ action, input: request ?? {} })).digest('base64url');

/** Who may do an action to this consultation beyond the route's roles (e.g. only its own doctor starts it). */
type Authorize = (deps: Deps, actor: ClinicActor, row: ConsultationRow) => Promise<void>;

const act =
  <I, Args extends unknown[]>(
    action: string,
    definition: UpdateDefinition<UpdateResult, Args>,
    argsOf: (deps: Deps, row: ConsultationRow, input: I, stash: Stash) => Promise<Args>,
    authorize?: Authorize,
    /** What of the input the client asked for, when the input also holds the server's own values (the clock). */
    requestOf: (input: I) => unknown = (input) => input,
  ) =>
  async (deps: Deps, actor: ClinicActor, id: string, input: I, opts: ActionOptions = {}): Promise<ActionResult> => {
    const row = await loadConsultation(deps, actor, id);
    if (authorize) await authorize(deps, actor, row);
    const stored: string[] = [];
    const args = await argsOf(deps, row, input, stasher(deps, row, stored));
    if (JSON.stringify(args).length > MAX_UPDATE_ARGS_BYTES) throw payloadTooLarge(MAX_UPDATE_ARGS_BYTES);
    try {
      const requestHash = opts.idempotencyKey === undefined ? undefined : requestHashOf(opts.idempotencyKey, action, requestOf(input));
      return await update(deps, actor, row, action, definition, args, { ...opts, requestHash });
    } catch (err) {
      // Refused or failed: what was stored for it will never be picked up (maintenance would remove it a day later).
      await withTenant(deps.db, row.tenantId, (trx) => deletePayloads(trx, stored)).catch(() => undefined);
      throw err;
    }
  };

/** The doctor linked to the consultation's practitioner; an admin may act for any doctor of the clinic. */
async function isOwnDoctor(deps: Pick<Services, 'db'>, actor: ClinicActor, row: ConsultationRow): Promise<boolean> {
  const practitioner = await withTenant(deps.db, row.tenantId, (trx) => getPractitioner(trx, row.practitionerId));
  return practitioner.accountId !== null && practitioner.accountId === actor.accountId;
}

const ownDoctorOnly: Authorize = async (deps, actor, row) => {
  if (!(await isOwnDoctor(deps, actor, row))) {
    throw forbidden('not_assigned_practitioner', 'Only the doctor this consultation is booked with may do this.');
  }
};

export const recordQuestionnaire = act('questionnaire', questionnaireUpdate, async (_deps, _row, answers: Record<string, unknown>, stash) => [
  { answersRef: await stash('questionnaire', answers) },
] as [{ answersRef: string }]);
export const checkIn = act('check-in', checkInUpdate, async () => [] as []);
export const startConsultation = act('start', startUpdate, async () => [] as [], ownDoctorOnly);
export const finishConsultation = act(
  'finish',
  finishUpdate,
  async (_deps, _row, input: { note: string; prescriptions: unknown[] }, stash) => [
    { noteRef: await stash('note', input.note), prescriptionsRef: await stash('prescriptions', input.prescriptions) },
  ] as [{ noteRef: string; prescriptionsRef: string }],
  ownDoctorOnly,
);
export const recordPayment = act('payment', paymentUpdate, async (_deps, _row, input: { amount: number; method: string }) => [input] as [typeof input]);
export const cancelConsultation = act('cancel', cancelUpdate, async (_deps, _row, reason: string, stash) => [{ reasonRef: await stash('cancelReason', reason) }] as [{ reasonRef: string }]);
export const rescheduleConsultation = act('reschedule', rescheduleUpdate, async (deps, row, input: { startsAt: Date; now: Date }) => {
  if (input.startsAt.getTime() < input.now.getTime()) throw badRequest('slot_in_past', 'That slot has already begun.');
  const practitioner = await withTenant(deps.db, row.tenantId, (trx) => getPractitioner(trx, row.practitionerId));
  const endsAt = assertOffered(practitioner, input.startsAt, row.mode);
  return [{ startsAt: input.startsAt.toISOString(), endsAt: endsAt.toISOString() }] as [
    { startsAt: string; endsAt: string },
  ];
}, undefined, (input) => ({ startsAt: input.startsAt.toISOString() }));

export type JoinRole = 'patient' | 'practitioner';

/**
 * Joining the video room. The server decides the side from who calls: the consultation's own
 * doctor joins as the practitioner; anyone else of the care team obtains the patient's ticket
 * (to hand to the patient). Asking for the practitioner's side as someone else is refused.
 */
export async function join(deps: Deps, actor: ClinicActor, id: string, requested?: JoinRole): Promise<ActionResult & { role: JoinRole }> {
  const row = await loadConsultation(deps, actor, id);
  const role: JoinRole = (await isOwnDoctor(deps, actor, row)) ? 'practitioner' : 'patient';
  if (requested && requested !== role) {
    throw forbidden('not_assigned_practitioner', role === 'patient' ? 'Only the doctor this consultation is booked with joins as the practitioner.' : 'The consultation\'s doctor joins as the practitioner.');
  }
  return { ...(await update(deps, actor, row, 'join', joinUpdate, [])), role };
}
