import { asyncLocalStorage } from '@temporalio/activity';

/**
 * Heartbeats for activities that loop over many items: `beat(progress)` tells Temporal the
 * activity is alive (the workflow sets a heartbeatTimeout, so a stuck worker is noticed in
 * seconds, not at the end of startToCloseTimeout) and records its progress; a retried attempt
 * starts from `resumed`, the progress its predecessor last reported. Called outside an activity
 * (a script, or a test calling the function directly) it does nothing.
 */
export function checkpoint<T>(): { resumed: T | undefined; beat(progress: T): void } {
  const context = asyncLocalStorage.getStore();
  return {
    resumed: context?.info.heartbeatDetails as T | undefined,
    beat: (progress) => context?.heartbeat(progress),
  };
}
