import type { Db } from '../db/connection';
import { pruneRateLimits } from '../db/rate-limit';
import { withTenant } from '../db/tenant-scope';

/**
 * Housekeeping that keeps the tables that only grow by accident small. Each step is idempotent
 * and per clinic (through the same tenant scope as everything else).
 */
const SESSION_KEEP_DAYS = 30;

export function createMaintenanceActivities(deps: { db: Db }) {
  return {
    async listTenantIds(): Promise<string[]> {
      return (await deps.db('tenants').select('id').orderBy('id')).map((r: { id: string }) => r.id);
    },

    /** Ended sessions (revoked or expired) older than 30 days, and stale passkey challenges. */
    async pruneTenantSessions(tenantId: string): Promise<{ sessions: number; challenges: number }> {
      return withTenant(deps.db, tenantId, async (trx) => {
        const cutoff = new Date(Date.now() - SESSION_KEEP_DAYS * 86_400_000);
        const challenges = await trx('webauthn_challenges').where('expires_at', '<', new Date()).delete();
        const sessions = await trx('sessions')
          .where((q) => q.where('revoked_at', '<', cutoff).orWhere('absolute_expires_at', '<', cutoff).orWhere('idle_expires_at', '<', cutoff))
          .delete();
        return { sessions, challenges };
      });
    },

    async pruneRateLimits(): Promise<number> {
      return pruneRateLimits(deps.db, 86_400);
    },
  };
}
