import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';

/**
 * Release N of a long-lived workflow, for the release test (test/workflows/release.test.ts): it
 * sends a first message, then waits — for days in production — for a signal, then finishes.
 */
export interface ReleaseActivities {
  welcome(id: string): Promise<string>;
  welcomeWithGuide(id: string): Promise<string>;
  finish(id: string): Promise<string>;
}

export const proceed = defineSignal('proceed');
const acts = proxyActivities<ReleaseActivities>({ startToCloseTimeout: '10 seconds' });

export async function releaseDemo(id: string): Promise<string[]> {
  let go = false;
  setHandler(proceed, () => void (go = true));
  const steps = [await acts.welcome(id)];
  await condition(() => go);
  steps.push(await acts.finish(id));
  return steps;
}
