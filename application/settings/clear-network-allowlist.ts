import { recordAudit } from '../../db/audit';
import { getSettings, saveAllowlist } from '../../db/settings';
import { getTenant } from '../../db/tenants';
import { withTenant } from '../../db/tenant-scope';
import { contractSettled } from '../../domain/contract';
import { conflict } from '../../domain/problems';
import type { Actor, Services } from '../deps';

/**
 * An operator clears a clinic's network allowlist (anywhere again): the way back for a clinic that
 * confirmed a list leaving out its own network (`confirmSelfLockout`) or whose office address
 * changed, once the clinic has asked through its contract channel. The clinic's own log names
 * the operator with before and after, as the platform log does; the clinic's admins then set a
 * new list themselves.
 */
export async function clearClinicAllowlist(deps: Pick<Services, 'db'>, actor: Actor, tenantId: string): Promise<{ cidrs: string[] }> {
  const tenant = await getTenant(deps.db, tenantId);
  if (contractSettled(tenant.contractState)) throw conflict('purge_started', 'This clinic\'s data is being or has been deleted; its settings no longer change.');
  await withTenant(deps.db, tenant.id, async (trx) => {
    const before = (await getSettings(trx)).allowlist;
    await saveAllowlist(trx, []);
    await recordAudit(trx, actor.audit, { action: 'settings.network_allowlist', outcome: 'success', details: { before, after: [], clearedByOperator: true } });
  });
  return { cidrs: [] };
}
