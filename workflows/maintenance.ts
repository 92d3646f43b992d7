import { continueAsNew, patched, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const retry = { maximumInterval: '1 minute', maximumAttempts: 10 };
const { listClinicPage, pruneRateLimits, listTenantIds, pruneTenantSessions } = proxyActivities<Activities>({ startToCloseTimeout: '5 minutes', retry });
/** Visits a page of clinics, heartbeating after each; a lost worker is noticed within a minute. */
const { pruneClinicSessions } = proxyActivities<Activities>({ startToCloseTimeout: '30 minutes', heartbeatTimeout: '1 minute', retry });

/** 200 clinics a page and 10 pages a run: 10,000 clinics take five runs of ~130 events each. */
export const CLINICS_PER_PAGE = 200;
export const PAGES_PER_RUN = 10;

export interface MaintenanceResult {
  /** Clinics pruned, over every run of the chain. */
  clinics: number;
  /** Clinics listed but deleted before their turn (not an error). */
  clinicsMissing: number;
  sessionsPruned: number;
  challengesPruned: number;
  rateLimitWindowsPruned: number;
  /** Runs of the chain: each further one began by continue-as-new. */
  runs: number;
}

export interface MaintenanceInput {
  /** Tuning; tests use small pages. */
  pageSize?: number;
  pagesPerRun?: number;
  /** Carried from one run to the next: the last clinic visited and the totals so far. */
  after?: string;
  totals?: MaintenanceResult;
}

/**
 * Nightly housekeeping, run by the `maintenance-nightly` schedule (temporal/schedules.ts):
 * ended sessions and stale passkey challenges per clinic, then old rate-limit windows.
 * The operation log is never pruned here: it is kept for as long as the service runs.
 *
 * Clinics are listed a page at a time (keyset on id) and each page is pruned by one activity;
 * after PAGES_PER_RUN pages the workflow continues as new with the cursor and the totals, so no
 * history grows with the number of clinics. The last run returns the totals of all of them.
 */
export async function maintenanceWorkflow(input: MaintenanceInput = {}): Promise<MaintenanceResult> {
  if (!patched('maintenance-pages')) return clinicByClinic(); // runs started before pages existed
  const pageSize = input.pageSize ?? CLINICS_PER_PAGE;
  const pagesPerRun = input.pagesPerRun ?? PAGES_PER_RUN;
  const totals: MaintenanceResult = { ...emptyResult(), ...input.totals };
  totals.runs += 1;
  let after = input.after;
  for (let page = 0; page < pagesPerRun; page += 1) {
    const tenantIds = await listClinicPage({ after, limit: pageSize });
    if (tenantIds.length > 0) {
      const pruned = await pruneClinicSessions(tenantIds);
      totals.clinics += pruned.clinics;
      totals.clinicsMissing += pruned.clinicsMissing;
      totals.sessionsPruned += pruned.sessionsPruned;
      totals.challengesPruned += pruned.challengesPruned;
      after = tenantIds.at(-1);
    }
    if (tenantIds.length < pageSize) {
      totals.rateLimitWindowsPruned = await pruneRateLimits();
      return totals;
    }
  }
  return continueAsNew<typeof maintenanceWorkflow>({ pageSize: input.pageSize, pagesPerRun: input.pagesPerRun, after, totals });
}

const emptyResult = (): MaintenanceResult => ({ clinics: 0, clinicsMissing: 0, sessionsPruned: 0, challengesPruned: 0, rateLimitWindowsPruned: 0, runs: 0 });

/** The version before pages, kept so that runs it started replay; remove with the patch (deprecatePatch first). */
async function clinicByClinic(): Promise<MaintenanceResult> {
  const result = emptyResult();
  for (const tenantId of await listTenantIds()) {
    const { sessions, challenges } = await pruneTenantSessions(tenantId);
    result.clinics += 1;
    result.sessionsPruned += sessions;
    result.challengesPruned += challenges;
  }
  result.rateLimitWindowsPruned = await pruneRateLimits();
  return { ...result, runs: 1 };
}
