import type { LoadGenerator } from './load';
import { unsentRows } from './outbox';

/**
 * One fault at a time under the running load, and how long the system took to heal: from the
 * fault to the first check-in answered 200 whose attempt began after the fault (a check-in needs
 * every part: an API, PostgreSQL, the Temporal server and a worker), and to the moment no outbox
 * row written before the repair is still waiting to be sent (the backlog the fault left drained).
 */
export interface Fault {
  name: string;
  /** Breaks something and repairs it (restart), resolving once the repaired part answers again. */
  inject(): Promise<void>;
}

export interface PhaseResult {
  name: string;
  faultAt: number;
  repairedAt: number;
  endedAt: number;
  /** Seconds from the fault to the first end-to-end success; undefined: none before the phase ended. */
  firstSuccessSec?: number;
  /** Seconds from the fault until the outbox rows written before the repair were all sent. */
  drainedSec?: number;
}

export async function runPhase(o: {
  load: LoadGenerator;
  name: string;
  fault?: Fault;
  ownerUrl: string;
  /** The phase lasts at least this long, and ends at the latest after maxMs even if not healed. */
  minMs: number;
  maxMs: number;
  log: (m: string) => void;
}): Promise<PhaseResult> {
  o.load.phase = o.name;
  const faultAt = Date.now();
  if (o.fault) await o.fault.inject();
  const repairedAt = Date.now();
  const result: PhaseResult = { name: o.name, faultAt, repairedAt, endedAt: repairedAt };
  const firstSuccess = () =>
    o.load.records
      .filter((r) => r.kind === 'checkIn' && r.outcome === 200 && r.attempts.at(-1)!.at >= faultAt)
      .reduce<number | undefined>((min, r) => Math.min(min ?? Infinity, r.endedAt), undefined);
  for (;;) {
    const now = Date.now();
    const success = firstSuccess();
    if (success !== undefined && result.firstSuccessSec === undefined) result.firstSuccessSec = (success - faultAt) / 1000;
    if (result.drainedSec === undefined && (await unsentRows(o.ownerUrl, new Date(repairedAt))) === 0) result.drainedSec = (Date.now() - faultAt) / 1000;
    const healed = result.firstSuccessSec !== undefined && result.drainedSec !== undefined;
    if ((healed && now - faultAt >= o.minMs) || now - faultAt >= o.maxMs) break;
    // Polling the two conditions above; the load runs meanwhile.
    await new Promise((r) => setTimeout(r, 250));
  }
  result.endedAt = Date.now();
  o.log(`${o.name}: first end-to-end success after ${result.firstSuccessSec ?? '—'} s, backlog drained after ${result.drainedSec ?? '—'} s`);
  return result;
}
