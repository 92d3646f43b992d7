import { recordAudit } from '../../db/audit';
import { saveProcessSettings as store } from '../../db/settings';
import { withTenant } from '../../db/tenant-scope';
import type { ClinicActor, Services } from '../deps';

/** An admin lets administrators see every process area of the clinic, or not (the default). */
export async function saveProcessSettings(deps: Pick<Services, 'db'>, actor: ClinicActor, settings: { adminsSeeAllProcesses: boolean }): Promise<void> {
  await withTenant(deps.db, actor.tenantId, async (trx) => {
    await store(trx, settings.adminsSeeAllProcesses);
    await recordAudit(trx, actor.audit, { action: 'settings.processes', outcome: 'success', details: settings });
  });
}
