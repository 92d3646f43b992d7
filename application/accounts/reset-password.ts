import { setInitialPassword } from '../../db/accounts';
import { recordAudit } from '../../db/audit';
import { commitThenDispatch } from '../commit-then-dispatch';
import { withRefusalsLogged } from '../audit/refusals';
import type { ClinicActor, Services, SessionActor } from '../deps';
import { requireRecentProofFirst } from '../auth/reauthenticate';
import { issueInitialPassword } from './initial-password';
import { restartOnboarding } from './onboarding';

/**
 * An admin issues a new initial password — their own choice (checked against the policy) or a
 * generated one, returned once —: sessions end and onboarding starts over.
 */
export async function resetPassword(
  deps: Pick<Services, 'db' | 'outbox' | 'passwords' | 'log'>,
  actor: SessionActor,
  accountId: string,
  opts: { initialPassword?: string } = {},
): Promise<{ initialPassword?: string }> {
  // A refusal (400 password_policy for a chosen password, 403 reauthentication_required) is logged as denied.
  const attempt = { action: 'account.password_reset', targetType: 'account', targetId: accountId };
  return withRefusalsLogged(deps, actor.tenantId, actor.audit, attempt, async () => {
    // The caller learns a password of another account: the admin proves who they are first.
    await requireRecentProofFirst(deps, actor);
    return reset(deps, actor, accountId, opts);
  });
}

async function reset(
  deps: Pick<Services, 'db' | 'outbox' | 'passwords'>,
  actor: ClinicActor,
  accountId: string,
  opts: { initialPassword?: string },
): Promise<{ initialPassword?: string }> {
  const chosen = opts.initialPassword === undefined ? undefined : { password: opts.initialPassword, accountId };
  const { initialPassword, initial } = await issueInitialPassword(deps, actor.tenantId, chosen);
  return commitThenDispatch(deps, actor.tenantId, async (trx, enqueue) => {
    // Hashing may have waited in the queue: the request re-checks the clinic as this transaction begins (asClinicWrite).
    const account = await setInitialPassword(trx, accountId, initial);
    await recordAudit(trx, actor.audit, {
      action: 'account.password_reset',
      outcome: 'success',
      targetType: 'account',
      targetId: accountId,
      details: { passwordOrigin: chosen ? 'admin' : 'generated' },
    });
    await enqueue(restartOnboarding({ tenantId: actor.tenantId, accountId, initialPasswordExpiresAt: account.initialPasswordExpiresAt! }));
    return initialPassword === undefined ? {} : { initialPassword };
  });
}
