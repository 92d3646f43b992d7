import { recordOperatorAction } from '../../db/backups';
import { setLegalHold } from '../../db/contracts';
import { getTenant } from '../../db/tenants';
import type { Tenant } from '../../domain/tenant';
import { commitPlatformThenDispatch } from '../commit-then-dispatch';
import type { Actor, Services } from '../deps';
import { contractChangedIntent } from './contract-end-intent';

/**
 * A legal hold (e.g. a court order, an investigation, a dispute) pauses the purge after the
 * contract's end for as long as it stands. Placing and lifting are recorded, with the reason, in
 * the operators' log (operator_actions: it outlives the clinic's own log, which the purge
 * deletes) and wake the clinic's contract-end workflow after commit: a held purge waits; a lifted
 * hold lets it go on (at once if the grace period is over). Once purging has begun a hold is
 * refused (409 purge_started): the deletion is under way and the keys may already be destroyed.
 */
export async function placeLegalHold(deps: Pick<Services, 'db' | 'outbox'>, actor: Actor, tenantId: string, reason: string): Promise<Tenant> {
  return commitPlatformThenDispatch(deps, async (trx, enqueue) => {
    const { changed, previousReason } = await setLegalHold(trx, tenantId, reason);
    // Placed again with the same reason: nothing changes, nothing is logged twice.
    if (!changed) return getTenant(trx, tenantId);
    // While a hold stands, a new reason amends it (its start stays) and the log keeps the old one.
    const details = previousReason === null ? { reason } : { reason, previousReason };
    await recordOperatorAction(trx, actor.audit, { action: previousReason === null ? 'tenant.legal_hold.place' : 'tenant.legal_hold.amend', targetType: 'tenant', targetId: tenantId, details });
    await enqueue(tenantId, contractChangedIntent(tenantId));
    return getTenant(trx, tenantId);
  });
}

export async function liftLegalHold(deps: Pick<Services, 'db' | 'outbox'>, actor: Actor, tenantId: string): Promise<Tenant> {
  return commitPlatformThenDispatch(deps, async (trx, enqueue) => {
    const { changed, previousReason, previousSince } = await setLegalHold(trx, tenantId, null);
    if (changed) {
      // What was lifted and since when it had stood: the hold's own entry may be years back.
      const details = { reason: previousReason, heldSince: previousSince?.toISOString() ?? null };
      await recordOperatorAction(trx, actor.audit, { action: 'tenant.legal_hold.lift', targetType: 'tenant', targetId: tenantId, details });
      await enqueue(tenantId, contractChangedIntent(tenantId));
    }
    return getTenant(trx, tenantId);
  });
}
