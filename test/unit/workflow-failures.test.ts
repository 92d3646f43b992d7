import { ApplicationFailure } from '@temporalio/common';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { consultationEnded, problemFromWorkflowError } from '../../application/workflow-failures';

/** The server's own update failures, as the client receives them (an ApplicationFailure with the server's type). */
const failed = (type: string) => new WorkflowUpdateFailedError('Workflow Update failed', ApplicationFailure.create({ type, message: 'from the server', nonRetryable: true }));

describe('problems from workflow errors', () => {
  it('answers an update the server gave up unprocessed (a lost workflow task) as 503, to be sent again, not as our bug (500)', () => {
    const problem = problemFromWorkflowError(failed('UnprocessedUpdate'), consultationEnded);
    expect([problem.status, problem.code]).toEqual([503, 'service_unavailable']);
  });

  it('answers an update cut short by the end of its workflow as invalid_transition', () => {
    const problem = problemFromWorkflowError(failed('AcceptedUpdateCompletedWorkflow'), consultationEnded);
    expect([problem.status, problem.code]).toEqual([409, 'invalid_transition']);
  });

  it('still reports a failure type it does not know as a bug', () => {
    expect(() => problemFromWorkflowError(failed('SomethingNew'), consultationEnded)).toThrow(WorkflowUpdateFailedError);
  });
});
