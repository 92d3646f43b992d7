import { resetPassword as issueInitialPassword } from '../../db/accounts';
import { recordAudit } from '../../db/audit';
import { getSettings } from '../../db/settings';
import { commitThenDispatch } from '../commit-then-dispatch';
import type { ClinicActor, Services } from '../deps';
import { restartOnboarding } from './onboarding';

/** An admin issues a new initial password: sessions end and onboarding starts over. */
export async function resetPassword(deps: Pick<Services, 'db' | 'outbox'>, actor: ClinicActor, accountId: string): Promise<{ initialPassword: string }> {
  return commitThenDispatch(deps, actor.tenantId, async (trx, enqueue) => {
    const { policy } = await getSettings(trx);
    const reset = await issueInitialPassword(trx, accountId, policy);
    await recordAudit(trx, actor.audit, { action: 'account.password_reset', outcome: 'success', targetType: 'account', targetId: accountId });
    await enqueue(restartOnboarding({ tenantId: actor.tenantId, accountId, initialPasswordExpiresAt: reset.account.initialPasswordExpiresAt! }));
    return { initialPassword: reset.initialPassword };
  });
}
