import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { activeAdmins, findAccount } from '../db/accounts';
import type { Db } from '../db/connection';
import { withTenant } from '../db/tenant-scope';
import { findTenant } from '../db/tenants';
import type { Mailer } from '../lib/mailer';
import { isMailRejected, sendEmailOnce } from './email';
import { accountLockedMailToAdmin, accountLockedMailToHolder } from './mail-templates/account-locked';

export interface LockoutNotice {
  tenantId: string;
  accountId: string;
  /** The lockout's number on the account (`accounts.lockouts`): one notice per lockout. */
  lockout: number;
  /** ISO 8601. */
  lockedUntil: string;
}

export interface LockoutNoticeReport {
  /** Mails sent by this attempt (0 when a retry found them all sent already). */
  sent: number;
  /** Recipients whose address the provider refused for good (see email_deliveries). */
  refused: number;
  accountMissing?: true;
}

export function createAccountLockoutActivities(deps: { db: Db; mailer: Mailer }) {
  return {
    /**
     * Mails the account's holder and every active administrator of the clinic, once each per
     * lockout however often this is retried (the idempotency key names the workflow, hence the
     * lockout, and the recipient's account). A refused address is counted, not retried: the
     * others still get theirs, and the lockout itself needs nobody's mail.
     */
    async sendLockoutNotices(notice: LockoutNotice): Promise<LockoutNoticeReport> {
      const workflowId = Context.current().info.workflowExecution?.workflowId;
      if (!workflowId) throw ApplicationFailure.nonRetryable('must run inside a workflow', 'NoWorkflow');
      const tenant = await findTenant(deps.db, notice.tenantId);
      const found = tenant
        ? await withTenant(deps.db, notice.tenantId, async (trx) => ({ account: await findAccount(trx, notice.accountId), admins: await activeAdmins(trx) }))
        : undefined;
      if (!tenant || !found?.account) return { sent: 0, refused: 0, accountMissing: true };
      const { account, admins } = found;
      const facts = { clinicName: tenant.name, loginId: account.loginId, lockedUntil: new Date(notice.lockedUntil) };
      const mails = [
        // A disabled account locks too (its attempts count, right password or not), but its holder
        // has left: mailing them would let anyone send a departed employee mail about their account.
        ...(account.disabled ? [] : [{ recipient: account.id, to: account.email, ...accountLockedMailToHolder(facts) }]),
        ...admins
          .filter((a) => a.id !== account.id)
          .map((a) => ({ recipient: a.id, to: a.email, ...accountLockedMailToAdmin({ ...facts, displayName: account.displayName }) })),
      ];
      let sent = 0;
      let refused = 0;
      for (const { recipient, ...mail } of mails) {
        try {
          const result = await sendEmailOnce(deps, { tenantId: notice.tenantId, idempotencyKey: `${workflowId}/${recipient}`, purpose: 'account.lockout', mail });
          if (result.sent) sent += 1;
        } catch (err) {
          if (!isMailRejected(err)) throw err;
          refused += 1;
        }
      }
      return { sent, refused };
    },
  };
}
