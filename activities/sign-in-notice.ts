import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { findAccount } from '../db/accounts';
import type { Db } from '../db/connection';
import { withTenant } from '../db/tenant-scope';
import { findTenant } from '../db/tenants';
import { describeDevice } from '../domain/sign-in-device';
import type { Mailer } from '../lib/mailer';
import { isMailRejected, sendEmailOnce } from './email';
import { signInNoticeMail } from './mail-templates/sign-in-notice';

/** Ids only: the address and the browser are read from the session's row, never carried in the history. */
export interface SignInNotice {
  tenantId: string;
  accountId: string;
  sessionId: string;
}

export interface SignInNoticeReport {
  /** `sent`, or why nobody was mailed: the account, its clinic or the session's row was gone (pruned, purged), the account disabled since, or its address refused for good. */
  outcome: 'sent' | 'already_sent' | 'account_missing' | 'session_missing' | 'account_disabled' | 'address_refused';
}

export function createSignInNoticeActivities(deps: { db: Db; mailer: Mailer }) {
  return {
    /** Mails the account's holder once per sign-in, however often this is retried. */
    async sendSignInNotice(notice: SignInNotice): Promise<SignInNoticeReport> {
      const workflowId = Context.current().info.workflowExecution?.workflowId;
      if (!workflowId) throw ApplicationFailure.nonRetryable('must run inside a workflow', 'NoWorkflow');
      const tenant = await findTenant(deps.db, notice.tenantId);
      if (!tenant) return { outcome: 'account_missing' };
      const found = await withTenant(deps.db, notice.tenantId, async (trx) => ({
        account: await findAccount(trx, notice.accountId),
        session: (await trx('sessions')
          .where({ id: notice.sessionId, account_id: notice.accountId })
          .first(trx.raw('host(client_ip) as client_ip'), 'user_agent', 'created_at')) as { clientIp: string | null; userAgent: string | null; createdAt: Date } | undefined,
      }));
      if (!found.account) return { outcome: 'account_missing' };
      if (found.account.disabled) return { outcome: 'account_disabled' };
      if (!found.session) return { outcome: 'session_missing' };
      const mail = signInNoticeMail({
        clinicName: tenant.name,
        loginId: found.account.loginId,
        at: found.session.createdAt,
        clientIp: found.session.clientIp,
        device: describeDevice(found.session.userAgent),
      });
      try {
        const sent = await sendEmailOnce(deps, { tenantId: notice.tenantId, idempotencyKey: `${workflowId}/${notice.accountId}`, purpose: 'account.sign_in_notice', mail: { to: found.account.email, ...mail } });
        return { outcome: sent.sent ? 'sent' : 'already_sent' };
      } catch (err) {
        if (!isMailRejected(err)) throw err;
        return { outcome: 'address_refused' };
      }
    },
  };
}
