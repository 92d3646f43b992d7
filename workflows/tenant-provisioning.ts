import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const { sendTenantWelcomeEmail, activateTenant } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  // Bounded: about a day of mail or database outage, then the run fails visibly in the Temporal UI.
  retry: { initialInterval: '1 second', maximumInterval: '5 minutes', backoffCoefficient: 2, maximumAttempts: 300 },
});

export interface TenantProvisioningResult {
  tenantId: string;
  /** Welcome mails sent by this run (0 when a retry found them all sent already). */
  welcomeEmailsSent: number;
  /** `tenant_missing`: the clinic's row was gone (never committed, or deleted), so nothing was done. */
  outcome?: 'provisioned' | 'tenant_missing';
}

/**
 * A new clinic: greet its contract addresses (proving they receive mail, since incident notices
 * go there), then open the clinic. Retries on mail or database outages, so an operator sees a
 * clinic stuck in provisioning here, in the Temporal UI, with the reason.
 */
export async function tenantProvisioningWorkflow(tenantId: string): Promise<TenantProvisioningResult> {
  const { sent, tenantMissing } = await sendTenantWelcomeEmail(tenantId);
  if (tenantMissing || (await activateTenant(tenantId)) === 'missing') return { tenantId, welcomeEmailsSent: sent, outcome: 'tenant_missing' };
  return { tenantId, welcomeEmailsSent: sent, outcome: 'provisioned' };
}
