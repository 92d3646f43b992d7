import type { Db } from '../db/connection';
import { AccountRow } from '../db/models/account';
import { withTenant } from '../db/tenant-scope';

export function createAccountOnboardingActivities(deps: { db: Db }) {
  return {
    /**
     * Marks the initial password expired if the account is still waiting for its first login.
     * Returns false when the account has moved on (it logged in just in time), so the workflow
     * does not overwrite newer state. Idempotent.
     */
    async expireInitialPassword(args: { tenantId: string; accountId: string }): Promise<boolean> {
      return withTenant(deps.db, args.tenantId, async (trx) => {
        // A few seconds of slack for clock differences between the Temporal server and PostgreSQL.
        const updated = await AccountRow.query(trx)
          .patch({ onboardingState: 'initial_password_expired', updatedAt: trx.fn.now() as never })
          .where({ id: args.accountId, passwordIsInitial: true })
          .whereIn('onboardingState', ['awaiting_first_login', 'initial_password_expired'])
          .whereRaw(`initial_password_expires_at <= now() + interval '5 seconds'`);
        return updated > 0;
      });
    },
  };
}
