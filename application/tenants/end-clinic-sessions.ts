import { recordAudit } from '../../db/audit';
import { endClinicSessions as endSessions } from '../../db/sessions';
import { withTenant } from '../../db/tenant-scope';
import { getTenant } from '../../db/tenants';
import { contractSettled } from '../../domain/contract';
import { conflict } from '../../domain/problems';
import type { Actor, Services } from '../deps';

/**
 * An operator signs every account of a clinic out (incident response: a leaked password list, a
 * compromised front end, a clinic that asks for it). A suspension only pauses sessions — they work
 * again when the clinic is resumed — so this is what makes the accounts sign in again, with their
 * passwords and passkeys. The clinic's own log names the operator and the count; its admins see
 * it there and sign in again like everyone. Accounts are not changed: nobody is locked out.
 */
export async function endClinicSessions(deps: Pick<Services, 'db'>, actor: Actor, tenantId: string): Promise<{ ended: number }> {
  const tenant = await getTenant(deps.db, tenantId);
  if (contractSettled(tenant.contractState)) throw conflict('purge_started', 'This clinic\'s data is being or has been deleted; it has no sessions to end.');
  // An operator's request is no clinic write: a suspended or read-only clinic's sessions end too.
  return withTenant(deps.db, tenant.id, async (trx) => {
    const ended = await endSessions(trx);
    await recordAudit(trx, actor.audit, { action: 'sessions.end_all', outcome: 'success', targetType: 'tenant', targetId: tenant.id, details: { sessionsEnded: ended } });
    return { ended };
  });
}
