import type { WorkflowHandle } from '@temporalio/client';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';

/**
 * Reading timers out of a workflow's history (the project's way to check timer offsets without
 * the time-skipping server, which our machines cannot download: see test/workflows/timers.test.ts).
 */
const EventType = temporal.api.enums.v1.EventType;
export type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface Timer {
  /** The instant the timer was set to fire: the workflow's clock when set, plus its duration. */
  target: number;
  durationMs: number;
  firedAt?: number;
  canceled: boolean;
}

export async function eventsOf(handle: WorkflowHandle): Promise<HistoryEvent[]> {
  return (await handle.fetchHistory()).events ?? [];
}

export function timersIn(events: HistoryEvent[]): Timer[] {
  const timers = new Map<string, Timer>();
  let workflowClock = 0;
  for (const e of events) {
    // A workflow's Date.now() is the start time of the workflow task it runs in.
    if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED) workflowClock = tsToMs(e.eventTime);
    if (e.timerStartedEventAttributes) {
      const durationMs = tsToMs(e.timerStartedEventAttributes.startToFireTimeout);
      timers.set(String(e.eventId), { target: workflowClock + durationMs, durationMs, canceled: false });
    }
    if (e.timerFiredEventAttributes) timers.get(String(e.timerFiredEventAttributes.startedEventId))!.firedAt = tsToMs(e.eventTime);
    if (e.timerCanceledEventAttributes) timers.get(String(e.timerCanceledEventAttributes.startedEventId))!.canceled = true;
  }
  return [...timers.values()];
}


/** A timer's moment, exact up to the millisecond the workflow clock is rounded to. */
export const expectSetFor = (timer: Timer | undefined, instant: number) => {
  expect(timer).toBeDefined();
  // The workflow's clock is read from its task's start event; a local activity (how the workflow
  // records state) resolves inside that task and moves the clock on without an event of its own,
  // so the reconstruction may trail by the time that took. 100 ms is nothing against hours.
  expect(Math.abs(timer!.target - instant)).toBeLessThanOrEqual(100);
};

/**
 * With RECORD_HISTORIES=1, saves the execution's history as test/histories/<name>.json for the
 * replay test (the same JSON as `temporal workflow show -o json`). Otherwise does nothing.
 */
export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  await writeFile(path.join(__dirname, '..', 'histories', `${name}.json`), `${JSON.stringify(JSON.parse(historyToJSON(await handle.fetchHistory())), null, 2)}\n`);
}
