import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Db } from '../db/connection';
import { activateTenant, findTenant } from '../db/tenants';
import type { Mailer } from '../lib/mailer';
import { isMailRejected, MAIL_REJECTED, sendEmailOnce } from './email';
import { tenantWelcomeMail } from './mail-templates/tenant-welcome';

export function createTenantProvisioningActivities(deps: { db: Db; mailer: Mailer }) {
  return {
    /** Tells the clinic's contract addresses that their environment is ready. */
    async sendTenantWelcomeEmail(tenantId: string): Promise<{ sent: number; tenantMissing?: true }> {
      const tenant = await findTenant(deps.db, tenantId);
      // Gone (deleted before provisioning ran): an outcome for the workflow to record, not an error to retry.
      if (!tenant) return { sent: 0, tenantMissing: true };
      const workflowId = Context.current().info.workflowExecution?.workflowId;
      if (!workflowId) throw ApplicationFailure.nonRetryable('must run inside a workflow', 'NoWorkflow');
      let sent = 0;
      let rejected = 0;
      // Every address gets its chance: one refused address does not hold back the others.
      for (const to of tenant.contractEmails) {
        try {
          const result = await sendEmailOnce(deps, {
            tenantId,
            // Hashed: the key is stored, the address need not be.
            idempotencyKey: `${workflowId}/welcome/${createHash('sha256').update(to).digest('hex').slice(0, 32)}`,
            purpose: 'tenant.welcome',
            mail: { to, ...tenantWelcomeMail(tenant) },
          });
          if (result.sent) sent += 1;
        } catch (err) {
          if (!isMailRejected(err)) throw err;
          rejected += 1;
        }
      }
      // A contract address that cannot receive mail needs an operator: fail visibly, without retries.
      if (rejected > 0) throw ApplicationFailure.nonRetryable(`${rejected} contract address(es) refused the welcome mail (see email_deliveries)`, MAIL_REJECTED);
      return { sent };
    },

    async activateTenant(tenantId: string): Promise<'activated' | 'already' | 'missing'> {
      return activateTenant(deps.db, tenantId);
    },
  };
}
