/**
 * Contract end: the states a clinic's contract goes through and the timing rules, shared by the
 * API, the activities and the contract-end workflow (no imports: workflow-safe).
 *
 *   active ──(an end is set)──▶ ending ──(the end passes)──▶ read_only ──(grace over, no hold)──▶ purging ──▶ purged
 *      ▲                          │ ▲                           │
 *      └──(end removed: null)─────┘ └──(end moved later)────────┘
 *
 * The database is the authority: read-only is decided on every request from the stored end, not
 * from the workflow's progress, so a late worker never leaves a clinic writable after its end.
 */
export const CONTRACT_STATES = ['active', 'ending', 'read_only', 'purging', 'purged'] as const;
export type ContractState = (typeof CONTRACT_STATES)[number];

/** Whether the clinic may only read now: its end has passed, or it is being (or has been) purged. */
export function isReadOnly(state: ContractState, endsAtMs: number | null, nowMs: number): boolean {
  if (state === 'read_only' || state === 'purging' || state === 'purged') return true;
  return endsAtMs !== null && endsAtMs <= nowMs;
}

/** Once purging has begun, nothing about the contract can change any more (the deletion is under way). */
export const contractSettled = (state: ContractState) => state === 'purging' || state === 'purged';

/**
 * How far in the past a new contract end may lie: a clock a little behind ours ("end it now"),
 * and never more than half the grace (a short grace would otherwise be over at once). Anything
 * earlier is refused: the grace period runs from the end, so an end set in the past (a mistyped
 * year) would purge the clinic at once — no notice, no export, records the clinic must keep for
 * five years gone.
 */
export const CONTRACT_END_SKEW_MS = 5 * 60_000;
export const contractEndTooEarly = (endsAtMs: number, nowMs: number, graceSec = Infinity) =>
  endsAtMs < nowMs - Math.min(CONTRACT_END_SKEW_MS, (graceSec * 1000) / 2);

/** The state a newly set (or removed) end puts the clinic in, decided when the operator saves it. */
export function stateForEnd(endsAtMs: number | null, nowMs: number): ContractState {
  if (endsAtMs === null) return 'active';
  return endsAtMs <= nowMs ? 'read_only' : 'ending';
}

export type ContractStepKind = 'announce' | 'reminder' | 'end' | 'purge';

export interface ContractStep {
  /** Unique within one end date: the mail idempotency key and the workflow's "done" mark. */
  key: string;
  kind: ContractStepKind;
  /** Epoch ms; the announcement is due at once. */
  at: number;
  /** Reminders: seconds before the end. */
  leadSec?: number;
}

/**
 * What happens for one end date, in order: an announcement at once (unless the end has already
 * passed: then the end's own notice says it all), a reminder at each lead time still ahead when
 * the end was set (those already past are covered by the announcement), the end itself (read-only
 * starts, later bookings are cancelled, the "on the day" notice) and the purge after the grace.
 */
export function contractSteps(endsAtMs: number, leadTimesSec: readonly number[], graceSec: number, plannedAtMs: number): ContractStep[] {
  const steps: ContractStep[] = [];
  if (endsAtMs > plannedAtMs) steps.push({ key: 'announce', kind: 'announce', at: plannedAtMs });
  for (const lead of [...new Set(leadTimesSec)].sort((a, b) => b - a)) {
    const at = endsAtMs - lead * 1000;
    if (lead > 0 && at > plannedAtMs) steps.push({ key: `reminder-${lead}`, kind: 'reminder', at, leadSec: lead });
  }
  steps.push({ key: 'end', kind: 'end', at: endsAtMs });
  steps.push({ key: 'purge', kind: 'purge', at: endsAtMs + graceSec * 1000 });
  return steps;
}

/** When the clinic's data is deleted (the end plus the grace period). */
export const purgeAt = (endsAtMs: number, graceSec: number) => endsAtMs + graceSec * 1000;
