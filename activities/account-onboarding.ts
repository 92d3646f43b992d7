import type { Db } from '../db/connection';
import { AccountRow } from '../db/models/account';
import { withTenant, type TenantTransaction } from '../db/tenant-scope';

const waitingForFirstLogin = (trx: TenantTransaction, accountId: string) =>
  AccountRow.query(trx).where({ id: accountId, passwordIsInitial: true }).whereNull('deletedAt').whereIn('onboardingState', ['awaiting_first_login', 'initial_password_expired']);

/** Rows marked: the account still waits and its password expired (a few seconds of slack for clock differences between the Temporal server and PostgreSQL). */
const expireIfDue = (trx: TenantTransaction, accountId: string) =>
  waitingForFirstLogin(trx, accountId)
    .patch({ onboardingState: 'initial_password_expired', updatedAt: trx.fn.now() as never })
    .whereRaw(`initial_password_expires_at <= now() + interval '5 seconds'`);

export function createAccountOnboardingActivities(deps: { db: Db }) {
  return {
    /**
     * Marks the initial password expired if the account is still waiting for its first login.
     * Returns false when the account has moved on (it logged in just in time), so the workflow
     * does not overwrite newer state. Idempotent.
     */
    async expireInitialPassword(args: { tenantId: string; accountId: string }): Promise<boolean> {
      return withTenant(deps.db, args.tenantId, async (trx) => (await expireIfDue(trx, args.accountId)) > 0);
    },

    /**
     * The same, saying why nothing was marked: `moved_on` (it logged in just in time), `gone` (the
     * account was deleted, or its row never committed: the workflow ends) or `not_due` — still
     * waiting, but PostgreSQL's clock says the password has not expired yet (behind the Temporal
     * server's by more than the slack), so the workflow asks again later instead of waiting for a
     * signal that never comes. Runs begun before it use the one above.
     */
    async checkInitialPasswordExpiry(args: { tenantId: string; accountId: string }): Promise<'expired' | 'moved_on' | 'not_due' | 'gone'> {
      return withTenant(deps.db, args.tenantId, async (trx) => {
        if ((await expireIfDue(trx, args.accountId)) > 0) return 'expired';
        if ((await waitingForFirstLogin(trx, args.accountId).resultSize()) > 0) return 'not_due';
        return (await AccountRow.query(trx).where({ id: args.accountId }).whereNull('deletedAt').resultSize()) > 0 ? 'moved_on' : 'gone';
      });
    },
  };
}
