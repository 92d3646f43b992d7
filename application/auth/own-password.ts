import { findAccount } from '../../db/accounts';
import { recordAudit, recordAuditNow } from '../../db/audit';
import type { AccountRow } from '../../db/models/account';
import { getSettings } from '../../db/settings';
import { withTenant } from '../../db/tenant-scope';
import { isLocked } from '../../domain/lockout';
import { initialPasswordExpired } from '../../domain/sign-in';
import type { PasswordPolicy } from '../../domain/password-policy';
import { badRequest, unauthorized } from '../../domain/problems';
import { commitThenDispatch } from '../commit-then-dispatch';
import type { Services, SessionActor } from '../deps';
import { accountLocked, countWrongPassword } from './lockout';

/**
 * The signed-in user proves their own password again (to change it, or to re-authenticate). A
 * session is no licence to guess: a wrong password counts toward the account's lockout exactly
 * like a failed login (the failure that locks starts the lockout notice), and while the account
 * is locked the answer is 423 account_locked without the password being looked at. The check
 * itself runs with no transaction open; an overlong password costs a dummy verification.
 */
export async function proveOwnPassword(
  deps: Pick<Services, 'db' | 'outbox' | 'passwords'>,
  actor: SessionActor,
  password: string,
  action: string,
): Promise<{ account: AccountRow; policy: PasswordPolicy }> {
  const { policy, account } = await withTenant(deps.db, actor.tenantId, async (trx) => {
    const { policy } = await getSettings(trx);
    const account = await findAccount(trx, actor.accountId);
    if (!account) throw unauthorized();
    return { policy, account };
  });
  const target = { targetType: 'account', targetId: account.id };
  if (isLocked(account, new Date())) {
    await recordAuditNow(deps.db, actor.tenantId, actor.audit, { action, outcome: 'denied', ...target, details: { reason: 'locked' } });
    throw accountLocked(account.lockedUntil!);
  }
  if (await deps.passwords.check(account.passwordHash, password)) {
    // An initial password works only until it expires, in a session opened before that too: past
    // it, only an administrator's reset (a new one) moves the account on, as at login.
    if (initialPasswordExpired(account, new Date())) {
      await recordAuditNow(deps.db, actor.tenantId, actor.audit, { action, outcome: 'denied', ...target, details: { reason: 'initial_password_expired' } });
      throw badRequest('initial_password_expired', 'This initial password has expired. Ask an administrator of your clinic for a new one.');
    }
    return { account, policy };
  }
  const lockedUntil = await commitThenDispatch(deps, actor.tenantId, async (trx, enqueue) => {
    const until = await countWrongPassword(trx, enqueue, actor.audit, { id: account.id, tenantId: actor.tenantId }, policy);
    await recordAudit(trx, actor.audit, { action, outcome: 'failed', ...target, details: { reason: 'wrong_current_password' } });
    return until;
  });
  if (lockedUntil) throw accountLocked(lockedUntil);
  throw badRequest('invalid_current_password', 'The current password is wrong.');
}
