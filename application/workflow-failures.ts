import { ApplicationFailure, TemporalFailure, WorkflowNotFoundError } from '@temporalio/common';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { badRequest, conflict, notFound, Problem, serviceUnavailable } from '../domain/problems';
import { CONSULTATION_FAILURES } from '../workflows/consultation-messages';

/**
 * The one table from the failure types workflows raise to the problem codes front ends see.
 * A failure type missing here is a bug in our code, not the caller's: it becomes a 500.
 */
const PROBLEMS: Record<string, (message: string) => Problem> = {
  [CONSULTATION_FAILURES.invalidTransition]: (m) => conflict('invalid_transition', m),
  [CONSULTATION_FAILURES.slotTaken]: () => conflict('slot_taken', 'That slot is already booked.'),
  [CONSULTATION_FAILURES.outsideJoinWindow]: (m) => conflict('outside_join_window', `The video room is not open now: ${m}.`),
  [CONSULTATION_FAILURES.beforeVisitDay]: (m) => conflict('before_visit_day', `Check-in is not open yet: ${m}.`),
  [CONSULTATION_FAILURES.consultationMissing]: () => notFound('No such consultation.'),
  [CONSULTATION_FAILURES.invalidArguments]: (m) => badRequest('validation_failed', m),
  [CONSULTATION_FAILURES.sealedContentMissing]: () => conflict('content_missing', 'The submitted content was not found. Send the action again.'),
  // The server's own (temporal server service/history/workflow/update): it gave the update up
  // without the workflow's answer — its workflow task was lost, e.g. a worker too slow under
  // load. Nothing of ours refused it, and the same request may be sent again.
  UnprocessedUpdate: () => serviceUnavailable('The workflow did not take the action in time. Retry shortly.'),
  // The workflow ended before the accepted update finished.
  AcceptedUpdateCompletedWorkflow: () => conflict('invalid_transition', 'The process ended before this action finished.'),
};

/** The ApplicationFailure at the bottom of a chain (update failed ← activity failed ← application failure). */
function applicationFailureIn(err: unknown): ApplicationFailure | undefined {
  let cause: unknown = err;
  for (let depth = 0; depth < 8 && cause; depth += 1) {
    if (cause instanceof ApplicationFailure && cause.type && PROBLEMS[cause.type]) return cause;
    cause = (cause as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * What a failed update, signal or query means to the caller: a refusal from the workflow (its
 * typed failure), a process that has ended (`ended`), or Temporal being unreachable (503).
 */
export function problemFromWorkflowError(err: unknown, ended: () => Problem): Problem {
  const failure = applicationFailureIn(err);
  if (failure) return PROBLEMS[failure.type!]!(failure.message);
  if (err instanceof WorkflowNotFoundError) return ended();
  if (err instanceof WorkflowUpdateFailedError || err instanceof TemporalFailure) {
    // A failure type that is not in the table: our bug, reported as such.
    throw err;
  }
  return serviceUnavailable('The workflow service is unavailable. Retry shortly.');
}

export const consultationEnded = () => conflict('invalid_transition', 'This consultation has ended.');
