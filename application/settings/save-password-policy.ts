import { recordAudit } from '../../db/audit';
import { getSettings, lockSettings, savePasswordPolicy as storePolicy } from '../../db/settings';
import { endSessionsOf, tightenSessions } from '../../db/sessions';
import { withTenant } from '../../db/tenant-scope';
import { newlyCoveredBySecondFactor, type PasswordPolicy } from '../../domain/password-policy';
import type { Services, SessionActor } from '../deps';
import { withRefusalsLogged } from '../audit/refusals';
import { requireRecentProof } from '../auth/reauthenticate';

/**
 * An admin replaces the clinic's password, lockout, session and two-step verification policy; the
 * log keeps before and after. Shorter session timeouts apply to the sessions already open, and so
 * does a stricter two-step rule: the open password-only sessions of the accounts it now covers end
 * (they sign in again, with a passkey or by enrolling one), except the session of the admin saving
 * it; a session that presented a passkey the account still has already meets the rule.
 */
export async function savePasswordPolicy(deps: Pick<Services, 'db' | 'log'>, actor: SessionActor, policy: PasswordPolicy): Promise<PasswordPolicy> {
  // Refused without a recent proof (logged as denied): a session left open or stolen must not turn off two-step sign-in or the lockout.
  const attempt = { action: 'settings.password_policy', details: { after: policy } };
  return withRefusalsLogged(deps, actor.tenantId, actor.audit, attempt, () => save(deps, actor, policy));
}

function save(deps: Pick<Services, 'db'>, actor: SessionActor, policy: PasswordPolicy): Promise<PasswordPolicy> {
  return withTenant(deps.db, actor.tenantId, async (trx) => {
    await requireRecentProof(trx, actor);
    await lockSettings(trx);
    const before = (await getSettings(trx)).policy;
    await storePolicy(trx, policy);
    const sessionsShortened = await tightenSessions(trx, policy);
    const covered = newlyCoveredBySecondFactor(before, policy);
    const sessionsEnded = covered ? await endSessionsOf(trx, covered, actor.sessionId) : 0;
    await recordAudit(trx, actor.audit, { action: 'settings.password_policy', outcome: 'success', details: { before, after: policy, sessionsShortened, sessionsEnded } });
    return policy;
  });
}
