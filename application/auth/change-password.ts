import { findAccount, previousPasswordHashes, replacePassword } from '../../db/accounts';
import { recordAudit, recordAuditNow } from '../../db/audit';
import { markSessionVerified, presentedPasskey, revokeAccountSessions, setSessionState } from '../../db/sessions';
import { withTenant } from '../../db/tenant-scope';
import { passkeyCount } from '../../db/webauthn';
import { unmetPasswordRules, type PasswordPolicy, type UnmetRule } from '../../domain/password-policy';
import { badRequest, unauthorized } from '../../domain/problems';
import { stateAfterPasswordChange } from '../../domain/sign-in';
import type { PasswordHasher } from '../../lib/password-hash';
import { recordOnboardingFact } from '../accounts/onboarding';
import { commitThenDispatch } from '../commit-then-dispatch';
import type { Services, SessionActor } from '../deps';
import { proveOwnPassword } from './own-password';

/**
 * The signed-in user changes their own password: the current one must be right and the new one
 * must meet the clinic's policy, history included (400 password_policy, listing every unmet rule).
 * Wrong current passwords count toward the account's lockout (see own-password.ts). Every other
 * session of the account ends; a session that had to change its password moves on (to passkey
 * enrolment or to active), and so does onboarding; the session counts as freshly verified. The
 * argon2 work (checking the current password and the history, hashing the new one) runs with no
 * transaction open, and a new password the policy refuses (too long included) is never hashed.
 */
export async function changePassword(
  deps: Pick<Services, 'db' | 'outbox' | 'passwords'>,
  actor: SessionActor,
  change: { currentPassword: string; newPassword: string },
): Promise<void> {
  const { policy, account: before } = await proveOwnPassword(deps, actor, change.currentPassword, 'password.change');
  const previous = await withTenant(deps.db, actor.tenantId, (trx) => previousPasswordHashes(trx, before.id, policy.historyCount - 1));
  const unmet = unmetPasswordRules(change.newPassword, policy, before.loginId);
  if (unmet.length === 0) {
    const reused = await reuse(deps.passwords, policy, [before.passwordHash, ...previous], change.newPassword);
    if (reused) unmet.push(reused);
  }
  if (unmet.length > 0) {
    // Logged as an admin's refused reset is (denied, with the problem's code), and which rules (never the password).
    await recordAuditNow(deps.db, actor.tenantId, actor.audit, { action: 'password.change', outcome: 'denied', targetType: 'account', targetId: before.id, details: { code: 'password_policy', rules: unmet.map((u) => u.rule) } });
    throw badRequest('password_policy', 'The new password does not meet the clinic\'s policy.', { errors: unmet });
  }
  const passwordHash = await deps.passwords.hash(change.newPassword);

  const changed = await commitThenDispatch(deps, actor.tenantId, async (trx, enqueue) => {
    const account = await findAccount(trx, actor.accountId, { forUpdate: true });
    if (!account) throw unauthorized();
    // Changed by someone else while we were hashing: the current password we checked is gone.
    if (account.passwordHash !== before.passwordHash) return false;
    await replacePassword(trx, account, passwordHash);
    const next =
      actor.sessionState === 'password_change_required'
        ? stateAfterPasswordChange(account, policy, await passkeyCount(trx, account.id), await presentedPasskey(trx, actor.sessionId))
        : actor.sessionState;
    await recordOnboardingFact(trx, enqueue, account, { kind: 'passwordChanged', secondFactorRequired: next === 'second_factor_enrollment_required' });
    await revokeAccountSessions(trx, account.id, actor.sessionId);
    await setSessionState(trx, actor.sessionId, next);
    await markSessionVerified(trx, actor.sessionId, 'password');
    await recordAudit(trx, actor.audit, { action: 'password.change', outcome: 'success', targetType: 'account', targetId: account.id });
    return true;
  });
  if (!changed) {
    // Logged in a transaction of its own.
    await recordAuditNow(deps.db, actor.tenantId, actor.audit, { action: 'password.change', outcome: 'failed', targetType: 'account', targetId: actor.accountId, details: { reason: 'password_changed' } });
    throw badRequest('invalid_current_password', 'The current password is wrong.');
  }
}

/** The candidate is the current password or, with a history, one of the last `historyCount` (newest first in `hashes`). */
async function reuse(passwords: PasswordHasher, policy: PasswordPolicy, hashes: string[], candidate: string): Promise<UnmetRule | undefined> {
  for (const h of hashes) {
    if (await passwords.verify(h, candidate)) {
      return { rule: 'reused', message: policy.historyCount > 0 ? `must differ from the last ${policy.historyCount} passwords` : 'must differ from the current password' };
    }
  }
  return undefined;
}
