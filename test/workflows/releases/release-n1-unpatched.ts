import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type { ReleaseActivities } from './release-n';

/** The same change as release-n1.ts without `patched()`: what the release test shows must not ship. */
export const proceed = defineSignal('proceed');
const acts = proxyActivities<ReleaseActivities>({ startToCloseTimeout: '10 seconds' });

export async function releaseDemo(id: string): Promise<string[]> {
  let go = false;
  setHandler(proceed, () => void (go = true));
  const steps = [await acts.welcomeWithGuide(id)];
  await condition(() => go);
  steps.push(await acts.finish(id));
  return steps;
}
