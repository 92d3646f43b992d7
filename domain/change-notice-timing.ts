/** Pure timing rules of change notices, shared by the API and the workflow (no imports: workflow-safe). */

/**
 * The moments (epoch ms) the lead-time reminders of a change go out: each lead time before the
 * change, latest lead first, dropping those already past (the first mail, sent at once, covers
 * them) and duplicates.
 */
export function reminderMoments(effectiveAtMs: number, leadTimesSec: readonly number[], nowMs: number): number[] {
  const moments = [...new Set(leadTimesSec)].sort((a, b) => b - a).map((lead) => effectiveAtMs - lead * 1000);
  return moments.filter((at) => at > nowMs);
}
