import { recordAudit, type AuditContext } from '../../db/audit';
import { unlinkAccount } from '../../db/practitioners';
import type { TenantTransaction } from '../../db/tenant-scope';

/**
 * An account that stops being a doctor (its doctor role removed, or the account deleted) is no
 * longer the account of any doctor's schedule: linking one requires the doctor role, and a link
 * left behind named someone who could no longer start those consultations while nobody else
 * could either. Each doctor unlinked gets its own log entry (a doctor's history shows it); the
 * admin links another account (`PUT /v1/practitioners/:id/account`).
 */
export async function unlinkFormerDoctor(trx: TenantTransaction, audit: AuditContext, accountId: string, reason: 'doctor_role_removed' | 'account_deleted'): Promise<string[]> {
  const unlinked = await unlinkAccount(trx, accountId);
  for (const id of unlinked) {
    await recordAudit(trx, audit, { action: 'practitioner.assign', outcome: 'success', targetType: 'practitioner', targetId: id, details: { from: accountId, to: null, reason } });
  }
  return unlinked;
}
