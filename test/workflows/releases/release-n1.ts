import { condition, defineSignal, patched, proxyActivities, setHandler } from '@temporalio/workflow';
import type { ReleaseActivities } from './release-n';

/**
 * Release N+1: the first message changed. Executions started by release N already scheduled the
 * old activity; `patched()` is false while they replay (their histories have no marker), so they
 * keep the old step and complete, and new executions take the new one.
 */
export const proceed = defineSignal('proceed');
const acts = proxyActivities<ReleaseActivities>({ startToCloseTimeout: '10 seconds' });

export async function releaseDemo(id: string): Promise<string[]> {
  let go = false;
  setHandler(proceed, () => void (go = true));
  const steps = [patched('welcome-with-guide') ? await acts.welcomeWithGuide(id) : await acts.welcome(id)];
  await condition(() => go);
  steps.push(await acts.finish(id));
  return steps;
}
