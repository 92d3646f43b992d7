import { condition, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { contractSteps, type ContractStep } from '../domain/contract';
import { PERMANENT_KEY_ERRORS } from '../lib/crypto/key-provider';
import { contractChangedSignal, contractEndProgressQuery, type ContractEndProgress } from './contract-end-messages';

const retry = { maximumAttempts: 20, maximumInterval: '5 minutes', nonRetryableErrorTypes: ['ContractEndNotConfigured', 'PurgeLoginUnfit', 'PurgeTableNotPurgeable', 'PurgeRecordMissing', ...PERMANENT_KEY_ERRORS] };
const acts = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry });
/**
 * The purge's long steps loop over rows, objects or keys and heartbeat after each batch, so a lost
 * worker is noticed within 30 s and the retry resumes. A purge that cannot run (PURGE_DATABASE_URL
 * missing) keeps retrying for days, failing visibly in the Temporal UI, rather than giving up.
 */
const purging = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30 seconds',
  retry: { ...retry, maximumAttempts: 500, maximumInterval: '30 minutes' },
});

/** How long a changed or removed end must stand before the clinic is told (see the loop). */
const CHANGE_SETTLE_MS = 3_000;

export interface ContractEndInput {
  tenantId: string;
}

export interface ContractEndResult {
  tenantId: string;
  outcome: 'purged' | 'cancelled' | 'no_end' | 'tenant_missing';
  noticesSent: number;
  certificateSha256?: string;
}

/**
 * One per clinic (`contract-end/<tenantId>`, search attribute TenantId), started or woken through
 * the outbox whenever an operator changes the contract's end or its legal hold. It holds ids and
 * times only; the database is the authority and is reloaded on every wake-up, so a changed date
 * re-plans (timers via condition(…, timeout)), an extension or a removed end cancels what was
 * pending (and says so by mail), and a legal hold pauses the purge until lifted.
 *
 * Steps for one end date (domain/contract.ts): announcement → reminders at the lead times →
 * the end (read-only, later bookings cancelled, notice) → after the grace: purge (inventory →
 * keys destroyed → rows → objects → certificate → mailed → tombstone).
 */
export async function contractEndWorkflow(input: ContractEndInput): Promise<ContractEndResult> {
  const { tenantId } = input;
  let wakeups = 0;
  const progress: ContractEndProgress = { state: 'active', endsAt: null, next: null, legalHold: false, noticesSent: 0 };
  setHandler(contractChangedSignal, () => void (wakeups += 1));
  setHandler(contractEndProgressQuery, () => progress);
  const result = (outcome: ContractEndResult['outcome'], certificateSha256?: string): ContractEndResult => ({ tenantId, outcome, noticesSent: progress.noticesSent, certificateSha256 });

  /**
   * The end the steps done so far were for; a different stored end re-plans. `sinceMs`: since when
   * this end stands — when it was stored (runs with the stored plan), or when this run planned it;
   * a hold lifted later is told.
   */
  let planned: { endsAtMs: number; plannedAtMs: number; sinceMs: number; steps: ContractStep[]; generation: string } | undefined;
  const done = new Set<string>();
  /**
   * Which plan a mail belongs to: mails are sent once per plan and step, so an end set back to a
   * date told before (X → Y → X, or X removed and set again) is told again rather than taken for
   * a retry of the first mail. The plan is the stored one (tenants.contract_plan, counted up by
   * every change of the end), so a run started again for the same plan (one terminated, then
   * woken by the next change) finds its mails sent; runs begun before it existed number their
   * plans themselves, per run, and announced the same end again after a restart.
   */
  const storedPlans = patched('contract-plan-stored');
  let plans = 0;
  const generationOf = (stored: number | undefined) => (storedPlans && stored !== undefined ? `plan-${stored}` : `${workflowInfo().runId}.${plans}`);
  const generation = () => planned?.generation ?? generationOf(undefined);
  /**
   * Lifting a legal hold does not delete at once: the purge waits until the notice period after
   * the lifting has passed, and the clinic is told the date. Decided once per run: runs begun
   * before this existed replay (and go on) without it.
   */
  const holdReleaseNotice = patched('hold-release-notice');
  /** The lifting this run has told the clinic about. */
  let toldLiftMs: number | null = null;
  /**
   * A change that arrives while the run is closing (no end, or the end removed) is read before it
   * closes. Temporal refuses the closing task and hands the signal over, but the run went on to
   * close all the same, and the change was lost: an end set just after a legal hold, or just
   * after an end was removed, left the clinic `ending` with no run to take it further.
   */
  const reloadBeforeClosing = patched('reload-before-closing');
  // (Runs begun before it take the fix at the moment it matters, under a marker of its own.)
  /** This run has made a plan and seen it removed (its outcome is `cancelled`, not `no_end`). */
  let cancelled = false;

  for (;;) {
    const seen = wakeups;
    const c = await acts.loadContractPlan({ tenantId });
    if (!c) return result('tenant_missing');
    progress.legalHold = c.legalHold;
    if (c.state === 'purged') return result('purged');
    if (c.state !== 'purging') {
      progress.state = c.state;
      if (c.endsAtMs !== (planned?.endsAtMs ?? null)) {
        const previous = planned?.endsAtMs;
        // Told about a date that no longer stands: say what changed, once the changes have settled.
        // A burst (several operators, a double submit, X → Y → Z within a second) is told as one
        // change from the date the clinic knows to the last one, not as a mail naming a date that
        // stood for milliseconds; a change undone within the burst (X → Y → X) is not told at all.
        // The run keeps `planned` (the told date) while it waits, and compares the next load with it.
        if (previous !== undefined && done.size > 0 && patched('contract-change-settles') && (await condition(() => wakeups !== seen, CHANGE_SETTLE_MS))) continue;
        if (previous !== undefined && done.size > 0) {
          const kind = c.endsAtMs === null ? 'cancelled' : 'changed';
          progress.noticesSent += await acts.mailContractNotice({
            tenantId,
            kind,
            step: `${kind}-from-${previous}`,
            endsAtMs: c.endsAtMs ?? previous,
            previousEndsAtMs: previous,
            graceSec: c.graceSec,
            generation: generation(),
          });
        }
        const wasTold = done.size > 0;
        done.clear();
        if (c.endsAtMs === null) {
          progress.state = 'cancelled';
          progress.endsAt = null;
          progress.next = null;
          cancelled ||= planned !== undefined;
          if (wakeups !== seen && (reloadBeforeClosing || patched('reload-before-closing-late'))) {
            // Said above; an end set again now is a new plan, announced again.
            planned = undefined;
            continue;
          }
          return result(cancelled ? 'cancelled' : 'no_end');
        }
        plans += 1;
        // A run started by a hold's lifting (after a restart) plans after it: by its own clock the
        // lifting came before the end was set, and the clinic never heard the deletion date.
        const sinceMs = storedPlans && typeof c.planAtMs === 'number' ? c.planAtMs : Date.now();
        planned = { endsAtMs: c.endsAtMs, plannedAtMs: Date.now(), sinceMs, steps: contractSteps(c.endsAtMs, c.leadTimesSec, c.graceSec, Date.now()), generation: generationOf(c.plan) };
        progress.endsAt = new Date(c.endsAtMs).toISOString();
        // The "changed" mail already announced the new date.
        if (wasTold) done.add('announce');
      }
    }
    const liftedAtMs = c.holdLiftedAtMs ?? null;
    const purgeNotBefore = (endsAtMs: number) => Math.max(endsAtMs + c.graceSec * 1000, liftedAtMs === null ? 0 : liftedAtMs + (c.holdReleaseNoticeSec ?? 0) * 1000);
    // A hold lifted while this end stands (not one lifted before it was set): say when the data goes.
    if (holdReleaseNotice && planned && c.state !== 'purging' && !c.legalHold && liftedAtMs !== null && liftedAtMs > planned.sinceMs && liftedAtMs !== toldLiftMs) {
      // Once the lifting has stood as long as a changed end must: a hold lifted and placed again
      // (or the end changed) within it is not told as a date that no longer holds, and a flapping
      // hold is not a mail per flap. The activity checks again as it sends. (Runs begun before
      // mailed each lifting at once.)
      const settles = patched('hold-lift-settles');
      if (settles && (await condition(() => wakeups !== seen, CHANGE_SETTLE_MS))) continue;
      toldLiftMs = liftedAtMs;
      const sent = await acts.mailContractNotice({
        tenantId,
        kind: 'hold_lifted',
        // Keyed by the lifting itself: a later run (a restart) does not tell the same lifting twice.
        step: `hold-lifted-${liftedAtMs}`,
        endsAtMs: planned.endsAtMs,
        graceSec: c.graceSec,
        purgeAtMs: purgeNotBefore(planned.endsAtMs),
        ...(settles ? { liftedAtMs } : {}),
      });
      // Not sent (-1): a hold stands again or was lifted again; the change's signal is on its way.
      if (sent < 0) continue;
      progress.noticesSent += sent;
    }
    const plan = planned;
    if (!plan && c.state !== 'purging') {
      if (wakeups !== seen && (reloadBeforeClosing || patched('reload-before-closing-late'))) continue;
      return result(cancelled ? 'cancelled' : 'no_end');
    }
    const step = c.state === 'purging' ? ({ key: 'purge', kind: 'purge', at: 0 } as ContractStep) : plan!.steps.find((s) => !done.has(s.key))!;
    // A purge a legal hold stands in front of is shown as the hold (what it waits for), from the start
    // of the grace, not only once the grace is over. Query state only: no command changes.
    progress.next = { kind: step.kind === 'purge' && c.legalHold ? 'legal_hold' : step.kind, at: new Date(step.at).toISOString() };
    // Sleep until the step is due, waking for every signal (then reload and re-plan).
    const left = step.at - Date.now();
    if (left > 0 && (await condition(() => wakeups !== seen, left))) continue;
    if (wakeups !== seen) continue;

    switch (step.kind) {
      case 'announce':
      case 'reminder': {
        // Skipped because the end no longer stood when the mail was to go (changed since this run
        // read it): not done. The change's signal is on its way; the run re-plans from it, and if the
        // end is set back to this one meanwhile (X → none → X) it still announces it. Runs begun
        // before count such a skip as done.
        const reportNotStanding = patched('contract-notice-skip-not-done');
        const sent = await acts.mailContractNotice({ tenantId, kind: step.kind, step: step.key, endsAtMs: plan!.endsAtMs, graceSec: c.graceSec, generation: generation(), ...(reportNotStanding ? { reportNotStanding } : {}) });
        if (sent < 0) {
          // (A minute at most: a change made without a signal is read all the same.)
          await condition(() => wakeups !== seen, '1 minute');
          continue;
        }
        progress.noticesSent += sent;
        done.add(step.key);
        break;
      }
      case 'end': {
        if ((await acts.startReadOnly({ tenantId, endsAtMs: plan!.endsAtMs })) === 'changed') continue;
        progress.state = 'read_only';
        await purging.cancelBookingsAfterEnd({ tenantId, endsAtMs: plan!.endsAtMs, generation: generation() });
        progress.noticesSent += await acts.mailContractNotice({ tenantId, kind: 'end', step: 'end', endsAtMs: plan!.endsAtMs, graceSec: c.graceSec, generation: generation() });
        done.add('end');
        break;
      }
      case 'purge': {
        if (c.state !== 'purging') {
          const notBefore = purgeNotBefore(plan!.endsAtMs);
          if (holdReleaseNotice && !c.legalHold && notBefore > Date.now()) {
            // A hold was lifted lately: the notice period runs first (woken early by any change).
            progress.next = { kind: 'purge', at: new Date(notBefore).toISOString() };
            await condition(() => wakeups !== seen, notBefore - Date.now());
            continue;
          }
          const begun = await acts.beginClinicPurge({
            tenantId,
            endsAtMs: plan!.endsAtMs,
            graceSec: c.graceSec,
            ...(holdReleaseNotice ? { holdReleaseNoticeSec: c.holdReleaseNoticeSec } : {}),
          });
          if (begun === 'held') {
            // Legal hold: wait for the next change (a lift, or a new date), however long.
            progress.next = { kind: 'legal_hold', at: new Date(step.at).toISOString() };
            await condition(() => wakeups !== seen);
            continue;
          }
          if (begun === 'changed') continue;
        }
        progress.state = 'purging';
        progress.next = null;
        const sha256 = await purge(tenantId);
        progress.state = 'purged';
        return result('purged', sha256);
      }
    }
  }
}

/** Irreversible from the first step; each step is idempotent, so a retried or resumed purge completes. */
async function purge(tenantId: string): Promise<string> {
  const { workflowId, runId } = workflowInfo();
  // An export still being built would write its archive after the objects are deleted, under keys
  // about to be destroyed: it is cancelled, and the purge waits until it has closed. (Purges begun
  // before this step existed replay without it.)
  if (patched('purge-closes-exports')) await purging.closeClinicExports({ tenantId });
  // Visits still open (checked in, seen, unpaid) have no timer left, nor has an onboarding waiting
  // for a password change: their workflows would run for ever after the rows are gone. Ended
  // before the inventory, so they write nothing after it.
  if (patched('purge-closes-workflows')) await purging.closeClinicWorkflows({ tenantId, except: workflowId });
  await purging.takePurgeInventory({ tenantId, workflowId, runId });
  // Keys first: from here on every copy of the clinic's data, backups included, is unreadable,
  // even if deleting the rows and files takes a while.
  await purging.shredTenantKeys(tenantId);
  await purging.purgeClinicRows({ tenantId });
  await purging.purgeClinicObjects({ tenantId });
  const { sha256 } = await acts.issueDeletionCertificate({ tenantId });
  await acts.mailDeletionCertificate({ tenantId });
  await acts.finishClinicPurge({ tenantId });
  return sha256;
}
