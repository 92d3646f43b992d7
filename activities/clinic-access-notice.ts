import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { activeAdmins, findAccount } from '../db/accounts';
import type { Db } from '../db/connection';
import { withTenant } from '../db/tenant-scope';
import { findTenant } from '../db/tenants';
import { contractSettled } from '../domain/contract';
import type { Mailer } from '../lib/mailer';
import { isMailRejected, sendEmailOnce } from './email';
import { clinicAccessMail, type ClinicAccessChange } from './mail-templates/clinic-access';

export type { ClinicAccessChange };

/** Ids and times only: the activity reads names and addresses from PostgreSQL. */
export interface ClinicAccessNotice {
  tenantId: string;
  change: ClinicAccessChange;
  /** ISO 8601, when the operator did it. */
  occurredAt: string;
  /** The administrator created (admin_created): named by login ID, and not mailed (the operator hands over its initial password). */
  accountId?: string;
}

export interface ClinicAccessNoticeReport {
  sent: number;
  /** Addresses the provider refused for good (see email_deliveries). */
  refused: number;
  /** `clinic_missing`: the clinic was being deleted or gone (purged) before anyone could be told. */
  outcome: 'notified' | 'clinic_missing';
}

const addressKey = (to: string) => createHash('sha256').update(to.toLowerCase()).digest('hex').slice(0, 32);

export function createClinicAccessNoticeActivities(deps: { db: Db; mailer: Mailer }) {
  return {
    /**
     * Mails the clinic's contract addresses and its active administrators (each address once,
     * however often this is retried: the key names the workflow and the address). A refused
     * address is counted, not retried; the others still get theirs.
     */
    async sendClinicAccessNotice(notice: ClinicAccessNotice): Promise<ClinicAccessNoticeReport> {
      const workflowId = Context.current().info.workflowExecution?.workflowId;
      if (!workflowId) throw ApplicationFailure.nonRetryable('must run inside a workflow', 'NoWorkflow');
      const tenant = await findTenant(deps.db, notice.tenantId);
      // Being deleted, or deleted (its row stays as a tombstone): nobody is told about an opening into it.
      if (!tenant || contractSettled(tenant.contractState)) return { sent: 0, refused: 0, outcome: 'clinic_missing' };
      const { admins, created } = await withTenant(deps.db, tenant.id, async (trx) => ({
        admins: await activeAdmins(trx),
        created: notice.accountId ? await findAccount(trx, notice.accountId) : undefined,
      }));
      const mail = clinicAccessMail({ clinicName: tenant.name, change: notice.change, occurredAt: new Date(notice.occurredAt), loginId: created?.loginId });
      const addresses = [...tenant.contractEmails, ...admins.filter((a) => a.id !== notice.accountId).map((a) => a.email)];
      const seen = new Set<string>();
      let sent = 0;
      let refused = 0;
      for (const to of addresses) {
        if (seen.has(to.toLowerCase())) continue;
        seen.add(to.toLowerCase());
        try {
          const result = await sendEmailOnce(deps, { tenantId: tenant.id, idempotencyKey: `${workflowId}/${addressKey(to)}`, purpose: `clinic_access.${notice.change}`, mail: { to, ...mail } });
          if (result.sent) sent += 1;
        } catch (err) {
          if (!isMailRejected(err)) throw err;
          refused += 1;
        }
      }
      return { sent, refused, outcome: 'notified' };
    },
  };
}
