import { condition, defineUpdate, setHandler } from '@temporalio/workflow';

/** The anchor of the check-in figure: an update that does nothing, on a workflow that does nothing. */
export const echoUpdate = defineUpdate<string, [string]>('echo');
export const stopUpdate = defineUpdate<void, []>('stop');

export async function benchEchoWorkflow(): Promise<void> {
  let done = false;
  setHandler(echoUpdate, (s) => s);
  setHandler(stopUpdate, () => {
    done = true;
  });
  await condition(() => done);
}
