import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const { sendTenantWelcomeEmail, activateTenant } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', backoffCoefficient: 2, nonRetryableErrorTypes: ['TenantMissing'] },
});

export interface TenantProvisioningResult {
  tenantId: string;
  /** Welcome mails sent by this run (0 when a retry found them all sent already). */
  welcomeEmailsSent: number;
}

/**
 * A new clinic: greet its contract addresses (proving they receive mail, since incident notices
 * go there), then open the clinic. Retries on mail or database outages, so an operator sees a
 * clinic stuck in provisioning here, in the Temporal UI, with the reason.
 */
export async function tenantProvisioningWorkflow(tenantId: string): Promise<TenantProvisioningResult> {
  const { sent } = await sendTenantWelcomeEmail(tenantId);
  await activateTenant(tenantId);
  return { tenantId, welcomeEmailsSent: sent };
}
