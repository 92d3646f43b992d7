import type { Db } from '../db/connection';
import { deleteStaleActionIntents, pruneStalePayloads } from '../db/consultations';
import { pruneLoginFailures } from '../db/login-failures';
import { pruneLoginProbes } from '../db/login-probes';
import { pruneRateLimits } from '../db/rate-limit';
import { pruneSecurityEvents } from '../db/security-events';
import { withTenant, type TenantTransaction } from '../db/tenant-scope';
import { checkpoint } from './checkpoint';
import { NO_CLINIC } from '../domain/ids';

/**
 * Housekeeping that keeps the tables that only grow by accident small. Each step is idempotent
 * and per clinic (through the same tenant scope as everything else). Clinics are visited a page
 * at a time (keyset on id), so the maintenance workflow's history grows with pages, not clinics.
 */
const SESSION_KEEP_DAYS = 30;
/** Probe records (logins to unknown login IDs and clinics) and denied attempts stay this long (their screens' longest window). */
const PROBE_KEEP_DAYS = 90;
/** Failure counters of login IDs without an account outlive the longest failureResetSeconds a policy allows. */
const LOGIN_FAILURE_KEEP_SECONDS = 31 * 86_400;

/** What only grows with attempts: counters of login IDs without an account, old probe records and old denied attempts. */
async function pruneLoginRecords(trx: TenantTransaction): Promise<void> {
  await pruneLoginFailures(trx, LOGIN_FAILURE_KEEP_SECONDS);
  await pruneLoginProbes(trx, PROBE_KEEP_DAYS);
  await pruneSecurityEvents(trx, PROBE_KEEP_DAYS);
}

export interface ClinicPagePruned {
  clinics: number;
  /** Listed, but gone by the time their turn came. */
  clinicsMissing: number;
  sessionsPruned: number;
  challengesPruned: number;
}

/** Ended sessions (revoked or expired) older than 30 days, and stale passkey challenges. */
async function pruneSessions(trx: TenantTransaction): Promise<{ sessions: number; challenges: number }> {
  const cutoff = new Date(Date.now() - SESSION_KEEP_DAYS * 86_400_000);
  const challenges = await trx('webauthn_challenges').where('expires_at', '<', new Date()).delete();
  const sessions = await trx('sessions')
    .where((q) => q.where('revoked_at', '<', cutoff).orWhere('absolute_expires_at', '<', cutoff).orWhere('idle_expires_at', '<', cutoff))
    .delete();
  // Sealed content of consultation actions that never reached their workflow (the API died in between).
  await pruneStalePayloads(trx, new Date(Date.now() - 86_400_000));
  // Who asked for actions that were never applied (refused, or never reached their workflow): a
  // week is far beyond the longest an update can wait to be applied.
  await deleteStaleActionIntents(trx, new Date(Date.now() - 7 * 86_400_000));
  await pruneLoginRecords(trx);
  return { sessions, challenges };
}

export function createMaintenanceActivities(deps: { db: Db }) {
  return {
    /** Up to `limit` clinic ids after `after`, in id order. */
    async listClinicPage(args: { after?: string; limit: number }): Promise<string[]> {
      const query = deps.db('tenants').select('id').orderBy('id').limit(args.limit);
      if (args.after) query.where('id', '>', args.after);
      return (await query).map((r: { id: string }) => r.id);
    },

    /**
     * Prunes each clinic of a page in a short transaction of its own, heartbeating after each,
     * so a retry carries on after the last clinic its predecessor reported.
     */
    async pruneClinicSessions(tenantIds: string[]): Promise<ClinicPagePruned> {
      const { resumed, beat } = checkpoint<{ done: number; totals: ClinicPagePruned }>();
      const totals = resumed?.totals ?? { clinics: 0, clinicsMissing: 0, sessionsPruned: 0, challengesPruned: 0 };
      for (let i = resumed?.done ?? 0; i < tenantIds.length; i += 1) {
        const pruned = await withTenant(deps.db, tenantIds[i]!, async (trx) =>
          (await trx('tenants').where({ id: tenantIds[i] }).first('id')) ? pruneSessions(trx) : undefined,
        );
        if (pruned) {
          totals.clinics += 1;
          totals.sessionsPruned += pruned.sessions;
          totals.challengesPruned += pruned.challenges;
        } else {
          totals.clinicsMissing += 1;
        }
        beat({ done: i + 1, totals: { ...totals } });
      }
      return totals;
    },

    /** Rate-limit windows older than a day; also the login records and denied attempts about no clinic. */
    async pruneRateLimits(): Promise<number> {
      await withTenant(deps.db, NO_CLINIC, pruneLoginRecords);
      return pruneRateLimits(deps.db, 86_400);
    },

    /** @deprecated Only for maintenance runs started before the page-wise version (see the workflow's patch). */
    async listTenantIds(): Promise<string[]> {
      return (await deps.db('tenants').select('id').orderBy('id')).map((r: { id: string }) => r.id);
    },

    /** @deprecated Only for maintenance runs started before the page-wise version (see the workflow's patch). */
    async pruneTenantSessions(tenantId: string): Promise<{ sessions: number; challenges: number }> {
      return withTenant(deps.db, tenantId, pruneSessions);
    },
  };
}
