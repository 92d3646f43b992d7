import { recordAudit } from '../../db/audit';
import type { WebauthnCredentialRow } from '../../db/models/webauthn';
import { getSettings } from '../../db/settings';
import { withTenant } from '../../db/tenant-scope';
import { deletePasskey, listPasskeys } from '../../db/webauthn';
import { conflict, notFound } from '../../domain/problems';
import { mayRemovePasskey } from '../../domain/sign-in';
import { requireRecentProof } from '../auth/reauthenticate';
import type { ClinicActor, Services, SessionActor } from '../deps';

/** The caller's passkeys, oldest first. */
export async function listOwnPasskeys(deps: Pick<Services, 'db'>, actor: ClinicActor): Promise<WebauthnCredentialRow[]> {
  return withTenant(deps.db, actor.tenantId, (trx) => listPasskeys(trx, actor.accountId));
}

/**
 * Removes one of the caller's passkeys, with a password or passkey proved in the last minutes
 * (403 reauthentication_required); never the last one when the clinic requires two-step
 * verification (409 last_passkey).
 */
export async function removeOwnPasskey(deps: Pick<Services, 'db'>, actor: SessionActor, id: string): Promise<void> {
  await withTenant(deps.db, actor.tenantId, async (trx) => {
    await requireRecentProof(trx, actor);
    const mine = await listPasskeys(trx, actor.accountId, { forUpdate: true });
    const target = mine.find((c) => c.id === id);
    if (!target) throw notFound('No such passkey.');
    const { policy } = await getSettings(trx);
    if (!mayRemovePasskey(policy, actor.roles, mine.length)) {
      throw conflict('last_passkey', 'Your clinic requires two-step verification: register another passkey before removing this one.');
    }
    await deletePasskey(trx, target.id);
    await recordAudit(trx, actor.audit, { action: 'passkey.remove', outcome: 'success', targetType: 'passkey', targetId: target.id });
  });
}
