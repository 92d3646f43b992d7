import { recordAudit } from '../../db/audit';
import { getSettings, savePasswordPolicy as storePolicy } from '../../db/settings';
import { tightenSessions } from '../../db/sessions';
import { withTenant } from '../../db/tenant-scope';
import type { PasswordPolicy } from '../../domain/password-policy';
import type { ClinicActor, Services } from '../deps';

/**
 * An admin replaces the clinic's password, lockout, session and two-step verification policy; the
 * log keeps before and after. Shorter session timeouts apply to the sessions already open.
 */
export async function savePasswordPolicy(deps: Pick<Services, 'db'>, actor: ClinicActor, policy: PasswordPolicy): Promise<PasswordPolicy> {
  return withTenant(deps.db, actor.tenantId, async (trx) => {
    const before = (await getSettings(trx)).policy;
    await storePolicy(trx, policy);
    const sessionsShortened = await tightenSessions(trx, policy);
    await recordAudit(trx, actor.audit, { action: 'settings.password_policy', outcome: 'success', details: { before, after: policy, sessionsShortened } });
    return policy;
  });
}
