import { recordAudit } from '../../db/audit';
import { getSettings, lockSettings, saveAllowlist } from '../../db/settings';
import { withTenant } from '../../db/tenant-scope';
import { canonicalCidr, isAllowedFrom } from '../../domain/network';
import { conflict } from '../../domain/problems';
import { withRefusalsLogged } from '../audit/refusals';
import type { Services, SessionActor } from '../deps';
import { requireRecentProofFirst } from '../auth/reauthenticate';

/**
 * An admin replaces the networks the clinic may be reached from (empty: anywhere). A list that
 * leaves out the admin's own address is refused (409 would_lock_out_self, logged as denied) unless confirmed.
 */
export async function saveNetworkAllowlist(
  deps: Pick<Services, 'db' | 'log'>,
  actor: SessionActor,
  req: { cidrs: string[]; confirmSelfLockout?: boolean; clientIp: string },
): Promise<string[]> {
  const cidrs = [...new Set(req.cidrs.map((c) => canonicalCidr(c)!))];
  const attempt = { action: 'settings.network_allowlist', details: { after: cidrs } };
  await withRefusalsLogged(deps, actor.tenantId, actor.audit, attempt, async () => {
    // Who may reach the clinic at all: a session left open or stolen must not open it to its own network.
    await requireRecentProofFirst(deps, actor);
    if (!isAllowedFrom(req.clientIp, cidrs) && req.confirmSelfLockout !== true) {
      throw conflict('would_lock_out_self', `The list does not contain your address ${req.clientIp}: you would lose access. Add it, or send "confirmSelfLockout": true.`);
    }
  });
  await withTenant(deps.db, actor.tenantId, async (trx) => {
    await lockSettings(trx);
    const before = (await getSettings(trx)).allowlist;
    await saveAllowlist(trx, cidrs);
    await recordAudit(trx, actor.audit, {
      action: 'settings.network_allowlist',
      outcome: 'success',
      details: { before, after: cidrs, confirmedSelfLockout: req.confirmSelfLockout === true },
    });
  });
  return cidrs;
}
