import { recordAudit } from '../../db/audit';
import { adminsSeeAllProcesses } from '../../db/processes';
import { lockSettings, saveProcessSettings as store } from '../../db/settings';
import { withTenant } from '../../db/tenant-scope';
import { withRefusalsLogged } from '../audit/refusals';
import { requireRecentProof } from '../auth/reauthenticate';
import type { Services, SessionActor } from '../deps';

/**
 * An admin lets administrators see every process area of the clinic, or not (the default).
 * Turning it on opens every area's records to every admin, so it needs a password or passkey
 * proved in the last 5 minutes (403 reauthentication_required, logged as denied); turning it off
 * takes access away and does not, nor does saving what is already stored.
 */
export async function saveProcessSettings(deps: Pick<Services, 'db' | 'log'>, actor: SessionActor, settings: { adminsSeeAllProcesses: boolean }): Promise<void> {
  const attempt = { action: 'settings.processes', details: settings };
  await withRefusalsLogged(deps, actor.tenantId, actor.audit, attempt, () =>
    withTenant(deps.db, actor.tenantId, async (trx) => {
      // Decided on the stored value as locked: a save racing a turn-off must not skip the proof.
      await lockSettings(trx);
      if (settings.adminsSeeAllProcesses && !(await adminsSeeAllProcesses(trx))) await requireRecentProof(trx, actor);
      await store(trx, settings.adminsSeeAllProcesses);
      await recordAudit(trx, actor.audit, { action: 'settings.processes', outcome: 'success', details: settings });
    }),
  );
}
