import { createAccount as insertAccount } from '../../db/accounts';
import { recordAudit } from '../../db/audit';
import { getSettings } from '../../db/settings';
import type { CreateAccountInput } from '../../domain/account';
import { commitThenDispatch } from '../commit-then-dispatch';
import type { Actor, Services } from '../deps';
import { startOnboarding } from './onboarding';

/**
 * A clinic admin (or an operator, for a clinic's first admin) creates an account: the account,
 * its log entry and the start of its onboarding workflow commit together.
 */
export async function createAccount(
  deps: Pick<Services, 'db' | 'outbox'>,
  actor: Actor,
  tenantId: string,
  input: CreateAccountInput,
): Promise<{ accountId: string; initialPassword: string }> {
  return commitThenDispatch(deps, tenantId, async (trx, enqueue) => {
    const { policy } = await getSettings(trx);
    const { account, initialPassword } = await insertAccount(trx, input, policy);
    await recordAudit(trx, actor.audit, {
      action: 'account.create',
      outcome: 'success',
      targetType: 'account',
      targetId: account.id,
      details: { loginId: account.loginId, roles: account.roles },
    });
    await enqueue(startOnboarding({ tenantId, accountId: account.id, initialPasswordExpiresAt: account.initialPasswordExpiresAt! }));
    return { accountId: account.id, initialPassword };
  });
}
