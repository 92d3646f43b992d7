import { setInitialPassword } from '../../db/accounts';
import { recordAudit } from '../../db/audit';
import { commitThenDispatch } from '../commit-then-dispatch';
import type { ClinicActor, Services } from '../deps';
import { issueInitialPassword } from './initial-password';
import { restartOnboarding } from './onboarding';

/** An admin issues a new initial password: sessions end and onboarding starts over. */
export async function resetPassword(deps: Pick<Services, 'db' | 'outbox' | 'passwords'>, actor: ClinicActor, accountId: string): Promise<{ initialPassword: string }> {
  const { initialPassword, initial } = await issueInitialPassword(deps, actor.tenantId);
  return commitThenDispatch(deps, actor.tenantId, async (trx, enqueue) => {
    const account = await setInitialPassword(trx, accountId, initial);
    await recordAudit(trx, actor.audit, { action: 'account.password_reset', outcome: 'success', targetType: 'account', targetId: accountId });
    await enqueue(restartOnboarding({ tenantId: actor.tenantId, accountId, initialPasswordExpiresAt: account.initialPasswordExpiresAt! }));
    return { initialPassword };
  });
}
