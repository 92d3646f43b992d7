import { createHash, createHmac, randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type UpdateDefinition } from '@temporalio/common';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { consultationFieldContext } from '../../activities/consultations';
import { recordAudit } from '../../db/audit';
import { claimActionKey, deletePayloads, markActionKeyDone, peekActionKey, releaseActionKey, findConsultation, recordActionIntent, storePayload, takeActionIntent, type ConsultationRow, type SealedField } from '../../db/consultations';
import { canonicalJson } from '../../domain/canonical-json';
import { getPractitioner } from '../../db/practitioners';
import { bookingHorizonDays } from '../../db/settings';
import { assertWithinHorizon } from '../../domain/booking-horizon';
import { assertOffered } from '../../domain/practitioner';
import { outsideClinicWrite, withTenant } from '../../db/tenant-scope';
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

/**
 * An Idempotency-Key as this request uses it: its hash (the client's text never leaves the API;
 * the update id is kept in the workflow's history) and the fingerprint of the request it stands for.
 */
interface ActionKey {
  keyHash: string;
  requestHash: string;
}

/**
 * The request a key stands for: an HMAC under the key itself of the action and its input, so the
 * stored hash does not fingerprint clinical text for anyone without the client's key. No body
 * and an empty object are the same request (the API treats them alike).
 */
const actionKeyOf = (key: string, action: string, request: unknown): ActionKey => ({
  keyHash: createHash('sha256').update(key, 'utf8').digest('base64url'),
  requestHash: createHmac('sha256', key).update(canonicalJson({ action, input: request ?? {} })).digest('base64url'),
});

/** Temporal's id for the update sent under a key: the first attempt's is `<action>:<hash>`, later ones add the attempt. */
const updateIdOf = (action: string, key: ActionKey, attempt: number) => (attempt === 0 ? `${action}:${key.keyHash}` : `${action}:${key.keyHash}:${attempt}`);

/**
 * Seals clinical content and stores it for the workflow to pick up: the update carries only the
 * payload's id. Ids stored for an action are deleted again if the workflow refuses it.
 */
type Stash = (field: SealedField, value: unknown) => Promise<string>;
/** For arguments prepared before the key is claimed: they must not store anything. */
const noStash: Stash = async () => {
  throw new Error('an action prepared before its key is claimed stores no content');
};
const stasher = (deps: Pick<Services, 'vault' | 'db'>, row: ConsultationRow, stored: string[]): Stash => async (field, value) => {
  const sealed = await deps.vault.encryptText(row.tenantId, consultationFieldContext(row.id, field), typeof value === 'string' ? value : JSON.stringify(value));
  const id = await withTenant(deps.db, row.tenantId, (trx) => storePayload(trx, row.id, field, sealed));
  stored.push(id);
  return id;
};

/**
 * Does one action: claims the key, prepares the update's arguments (the rules checked here, the
 * content sealed and stored), sends the update, and logs the outcome (a refusal as denied with
 * its code). Returns the workflow's answer and the row as the action left it.
 *
 * With a key, the update's id is derived from it: Temporal answers a repeated id with the first
 * update's outcome instead of running it again, so a retried request acts once. The key's row
 * (consultation_action_keys) says what its requests came to:
 * - done: the request is answered with that update's outcome, fetched by its id, before any check
 *   of today's clock or schedule and without storing content again (a reschedule repeated after
 *   its new slot began is the same success, not 400 slot_in_past);
 * - refused by the workflow (409 invalid_transition, slot_taken, …): nothing was done, so the key
 *   is let go: its next request, with this body or a corrected one, is a fresh attempt under a
 *   fresh update id (Temporal keeps a failed update's outcome under its id and would repeat the
 *   refusal forever), as a refused booking keeps nothing of its key;
 * - unanswered (503, a lost connection): the same id again, which joins the update if it ran.
 *
 * An action whose arguments need no stored content and whose rules may refuse it (`rulesFirst`: a
 * reschedule to a time past the horizon, not a slot, already begun) checks them before it claims
 * the key, so a 400 binds nothing and the same key with a corrected body is a new request.
 */
async function perform<Args extends unknown[]>(
  deps: Deps,
  actor: ClinicActor,
  row: ConsultationRow,
  action: string,
  definition: UpdateDefinition<UpdateResult, Args>,
  prepare: (stash: Stash) => Promise<Args>,
  key?: ActionKey,
  rulesFirst = false,
): Promise<ActionResult> {
  const handle = deps.temporal.client.workflow.getHandle(row.workflowId);
  const withDeadline = <T>(fn: () => Promise<T>) => deps.temporal.connection.withDeadline(Date.now() + UPDATE_DEADLINE_MS, fn);
  const send = (args: Args, updateId: string | undefined) =>
    withDeadline(() =>
      // The definitions are typed at each call below; the SDK's overloads cannot see through the generic.
      handle.executeUpdate(definition as unknown as UpdateDefinition<UpdateResult, [unknown]>, { args: args as unknown as [unknown], updateId }),
    );
  const logged = { action: `consultation.${action}`, targetType: 'consultation', targetId: row.id } as const;
  const keyRow = key && { consultationId: row.id, action, ...key };
  let attempt = 0;
  let repeated = false;
  /** The id of the update this request sent (with a key, derived from it; else a fresh one). */
  let sentUpdateId: string | undefined;
  /** The arguments, when the rules were checked before the key was claimed. */
  let checked: Args | undefined;
  /** The key was already bound to this request: an earlier one with it may have sent this attempt's update. */
  let earlierAttempt = false;

  /** The key is let go: nothing was done under this attempt (refused by a rule or by the workflow). */
  const release = () => outsideClinicWrite(() => withTenant(deps.db, actor.tenantId, (trx) => releaseActionKey(trx, keyRow!, attempt))).catch(() => undefined);

  /**
   * An earlier request with this key and body may have sent its update and never heard back
   * (503): what became of it. `ran` with its result; `refused` by the workflow (nothing was done,
   * and nothing ever can be under that update id); `unknown` when Temporal has no such update —
   * never sent, or about to be sent by a concurrent request with the same key, so the key is kept.
   * 503 when Temporal cannot say.
   */
  const earlierOutcome = async (): Promise<{ kind: 'ran'; result: UpdateResult } | { kind: 'refused' | 'unknown' }> => {
    const updateId = updateIdOf(action, key!, attempt);
    try {
      const result = await withDeadline(() => handle.getUpdateHandle<UpdateResult>(updateId).result());
      sentUpdateId = updateId;
      return { kind: 'ran', result };
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) return { kind: 'refused' };
      if (err instanceof WorkflowNotFoundError) return { kind: 'unknown' };
      throw problemFromWorkflowError(err, consultationEnded);
    }
  };

  const sendUpdate = async (): Promise<UpdateResult> => {
    const stored: string[] = [];
    try {
      let args: Args;
      try {
        args = checked ?? (await prepare(stasher(deps, row, stored)));
        if (JSON.stringify(args).length > MAX_UPDATE_ARGS_BYTES) throw payloadTooLarge(MAX_UPDATE_ARGS_BYTES);
      } catch (err) {
        // Refused before anything was sent by this request.
        if (!keyRow || !(err instanceof Problem) || err.status >= 500) throw err;
        // A retry of a request that went unanswered: if its update ran, that is the answer, whatever
        // today's rules say (a reschedule retried after its new slot began).
        if (earlierAttempt) {
          const earlier = await earlierOutcome();
          if (earlier.kind === 'ran') return earlier.result;
          // Nothing was done, but a concurrent request may yet send this attempt: the key stays its.
          if (earlier.kind === 'unknown') throw err;
        }
        // Nothing was done under the key: a refused request keeps nothing of it.
        await release();
        throw err;
      }
      const updateId = key ? updateIdOf(action, key, attempt) : `${action}:${randomUUID()}`;
      // Who asks, kept under the update's id before it is sent: the workflow's step that applies
      // the action logs it from this, even if this request stops waiting (503) or dies.
      await withTenant(deps.db, row.tenantId, (trx) => recordActionIntent(trx, { updateId, consultationId: row.id, action: logged.action, context: actor.audit }));
      sentUpdateId = updateId;
      try {
        return await send(args, updateId);
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        // Booked a moment ago and its start is still in the outbox: send it now, then retry once.
        const pending = await deps.outbox.dispatchWorkflow(row.workflowId);
        if (pending.failed > 0) throw serviceUnavailable('This consultation\'s workflow is still starting. Retry shortly.');
        if (pending.dispatched === 0) throw err;
        return await send(args, updateId);
      }
    } catch (err) {
      const problem = err instanceof Problem ? err : problemFromWorkflowError(err, consultationEnded);
      // Refused: what was stored for it will never be picked up. Unanswered (503: the server may
      // still run the update, and a retry with the key joins it): kept for that run to move, or
      // for maintenance to remove a day later. Deleting it made the update fail content_missing.
      // Bookkeeping of an attempt already made, so not re-checked as a clinic write (nor below).
      if (problem.status < 500) await outsideClinicWrite(() => withTenant(deps.db, row.tenantId, (trx) => deletePayloads(trx, stored))).catch(() => undefined);
      if (err instanceof Problem) throw err;
      // The workflow said no, so nothing was done: the key is let go, its next request a fresh attempt.
      if (keyRow && problem.status === 409) await release();
      throw problem;
    }
  };

  const act = async (): Promise<UpdateResult> => {
    if (!keyRow) return sendUpdate();
    if (rulesFirst) {
      // A key that stands for a request already done (or another request) is answered from it,
      // before today's rules: a repeat after the new slot began is the same success.
      // One bound to this request but unanswered is retried (below) before the rules: its update may have run.
      const known = await withTenant(deps.db, actor.tenantId, (trx) => peekActionKey(trx, keyRow));
      if (known === undefined) checked = await prepare(noStash);
    }
    const claim = await withTenant(deps.db, actor.tenantId, (trx) => claimActionKey(trx, keyRow));
    earlierAttempt = !claim.fresh;
    // Temporal would answer a repeat with the first outcome whatever it carried: a key used for a
    // different request is refused before anything is sent, not answered as if it had been done.
    if (claim.state === 'reused') throw conflict('idempotency_key_reused', 'This Idempotency-Key was used for a different request to this consultation; send a new key for a new request.');
    attempt = claim.attempt;
    if (claim.state === 'open') return sendUpdate();
    repeated = true;
    try {
      return await withDeadline(() => handle.getUpdateHandle<UpdateResult>(updateIdOf(action, key!, attempt)).result());
    } catch (err) {
      // Temporal no longer knows the update (its workflow's history is past retention): the action
      // was done all the same, and the consultation as it stands is the answer.
      if (err instanceof WorkflowNotFoundError) return { status: row.status, startsAt: row.startsAt.toISOString(), endsAt: row.endsAt.toISOString() };
      throw problemFromWorkflowError(err, consultationEnded);
    }
  };

  // A refusal (the workflow's, a rule's, or a reused key) is logged as denied with its code, as every refused change is.
  const result = await withRefusalsLogged(deps, actor.tenantId, actor.audit, logged, act);
  // One transaction: the log entry, and the row as the action left it (payment, new times). The
  // workflow has done the action: its entry is written even if the clinic became read-only since
  // (the clinic was re-checked before the update was sent, as the consultation was loaded).
  const after = await outsideClinicWrite(() => withTenant(deps.db, actor.tenantId, async (trx) => {
    // Of concurrent requests with one key, the first to record the action is the one that did it;
    // the others (and every later one) are repeats, logged as such: that entry says what was done.
    if (keyRow && !repeated) repeated = !(await markActionKeyDone(trx, keyRow, attempt));
    // The step that applied the action logged it already (the intent is taken); a run from before
    // intents, or an answer that applied nothing new (a join already waiting), did not: logged here.
    const unlogged = !repeated && sentUpdateId ? await takeActionIntent(trx, row.id, sentUpdateId) : undefined;
    if (repeated || unlogged || !sentUpdateId) await recordAudit(trx, actor.audit, { ...logged, outcome: 'success', details: repeated ? { repeated: true } : undefined });
    return findConsultation(trx, row.id);
  }));
  return { row: after ?? row, result };
}

export interface ActionResult {
  row: ConsultationRow;
  result: UpdateResult;
}

export interface ActionOptions {
  /** The request's Idempotency-Key: a repeat with the same key answers the first outcome. */
  idempotencyKey?: string;
}

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
    /** The arguments store no content and the rules in argsOf may refuse: checked before the key binds. */
    rulesFirst = false,
  ) =>
  async (deps: Deps, actor: ClinicActor, id: string, input: I, opts: ActionOptions = {}): Promise<ActionResult> => {
    const row = await loadConsultation(deps, actor, id);
    if (authorize) await authorize(deps, actor, row);
    const key = opts.idempotencyKey === undefined ? undefined : actionKeyOf(opts.idempotencyKey, action, requestOf(input));
    return perform(deps, actor, row, action, definition, (stash) => argsOf(deps, row, input, stash), key, rulesFirst);
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
  const { practitioner, horizonDays } = await withTenant(deps.db, row.tenantId, async (trx) => ({
    practitioner: await getPractitioner(trx, row.practitionerId),
    horizonDays: await bookingHorizonDays(trx),
  }));
  const endsAt = assertOffered(practitioner, input.startsAt, row.mode);
  assertWithinHorizon(input.startsAt, input.now, horizonDays);
  return [{ startsAt: input.startsAt.toISOString(), endsAt: endsAt.toISOString() }] as [
    { startsAt: string; endsAt: string },
  ];
}, undefined, (input) => ({ startsAt: input.startsAt.toISOString() }), true);

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
  return { ...(await perform(deps, actor, row, 'join', joinUpdate, async () => [] as [])), role };
}
