import { recordAudit } from '../../db/audit';
import { getSettings, lockSettings, saveAllowlist } from '../../db/settings';
import { getTenant } from '../../db/tenants';
import { contractSettled } from '../../domain/contract';
import { conflict } from '../../domain/problems';
import { commitThenDispatch } from '../commit-then-dispatch';
import type { Actor, Services } from '../deps';
import { clinicAccessNotice } from '../operators/clinic-access-notice';

/**
 * An operator clears a clinic's network allowlist (anywhere again): the way back for a clinic that
 * confirmed a list leaving out its own network (`confirmSelfLockout`) or whose office address
 * changed, once the clinic has asked through its contract channel. The clinic's own log names
 * the operator with before and after, as the platform log does; its contract addresses and
 * administrators are mailed (clinicAccessNotice); the clinic's admins then set a new list themselves.
 */
export async function clearClinicAllowlist(deps: Pick<Services, 'db' | 'outbox'>, actor: Actor, tenantId: string): Promise<{ cidrs: string[] }> {
  const tenant = await getTenant(deps.db, tenantId);
  if (contractSettled(tenant.contractState)) throw conflict('purge_started', 'This clinic\'s data is being or has been deleted; its settings no longer change.');
  await commitThenDispatch(deps, tenant.id, async (trx, enqueue) => {
    await lockSettings(trx);
    const before = (await getSettings(trx)).allowlist;
    await saveAllowlist(trx, []);
    await recordAudit(trx, actor.audit, { action: 'settings.network_allowlist', outcome: 'success', details: { before, after: [], clearedByOperator: true } });
    // The clinic is told, whoever asked for it (a list that was already empty opened nothing).
    if (before.length > 0) await enqueue(clinicAccessNotice(tenant.id, 'allowlist_cleared'));
  });
  return { cidrs: [] };
}
