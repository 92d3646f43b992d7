import { countOperatorFailure } from '../../db/login-failures';
import { recordPlatformEntry } from '../../db/platform-log';
import { findOperator, listOperatorPasskeys, revokeOperatorSession, revokeOperatorSessions, setOperatorPassword, markOperatorSessionVerified } from '../../db/operators';
import { withPlatform } from '../../db/platform-scope';
import { isLocked } from '../../domain/lockout';
import { OPERATOR_PASSWORD_POLICY } from '../../domain/operators';
import { unmetPasswordRules } from '../../domain/password-policy';
import { badRequest, unauthorized } from '../../domain/problems';
import { stateAfterPasswordChange, type SessionState } from '../../domain/sign-in';
import { accountLocked } from '../auth/lockout';
import type { OperatorActor } from '../deps';
import { commitPlatformScopeThenDispatch } from '../commit-then-dispatch';
import type { OperatorDeps } from './operator-deps';
import { noticeOperatorLockout } from './operator-lockout';
import { sessionOf } from './operator-passkeys';

export interface OperatorMe {
  via: OperatorActor['operator']['via'];
  id: string;
  name: string;
  roles: readonly string[];
  email?: string;
  sessionState?: SessionState;
  passkeyCount?: number;
}

/** Who the caller is: a person (with their session's state and passkeys), an API key, or break-glass. */
export async function operatorMe(deps: Pick<OperatorDeps, 'db'>, actor: OperatorActor): Promise<OperatorMe> {
  const { via, id, name, roles } = actor.operator;
  if (via !== 'session') return { via, id, name, roles };
  return withPlatform(deps.db, async (trx) => {
    const operator = await findOperator(trx, id);
    if (!operator) throw unauthorized();
    return { via, id, name, roles, email: operator.email, sessionState: actor.session!.state, passkeyCount: (await listOperatorPasskeys(trx, id)).length };
  });
}

export async function logoutOperator(deps: Pick<OperatorDeps, 'db'>, actor: OperatorActor): Promise<void> {
  const session = sessionOf(actor);
  await withPlatform(deps.db, async (trx) => {
    await revokeOperatorSession(trx, session.id);
    await recordPlatformEntry(trx, actor.audit, { action: 'operator.logout', outcome: 'success', targetType: 'operator', targetId: actor.operator.id });
  });
}

/**
 * The operator changes their own password (the initial one at first login, or any time): the
 * current one must be right (a wrong one counts toward the lockout), the new one must meet the
 * operators' policy and differ from the current one. Every other session ends; a session that
 * had to change its password moves on to passkey enrolment (or to presenting a passkey).
 */
export async function changeOperatorPassword(deps: OperatorDeps, actor: OperatorActor, change: { currentPassword: string; newPassword: string }): Promise<{ state: SessionState }> {
  const session = sessionOf(actor);
  const before = await withPlatform(deps.db, (trx) => findOperator(trx, actor.operator.id));
  if (!before) throw unauthorized();
  // A locked operator proves nothing by password until the lock ends (as at login).
  if (isLocked(before, new Date())) throw accountLocked(before.lockedUntil!);
  if (!(await deps.passwords.check(before.passwordHash, change.currentPassword))) {
    const counted = await commitPlatformScopeThenDispatch(deps, async (trx, enqueue) => {
      const c = await countOperatorFailure(trx, before.id, OPERATOR_PASSWORD_POLICY.lockout);
      await noticeOperatorLockout(enqueue, before.id, c);
      await recordPlatformEntry(trx, actor.audit, { action: 'operator.password.change', outcome: 'failed', targetType: 'operator', targetId: before.id, details: { reason: 'wrong_password' } });
      return c;
    });
    if (counted.lockedNow) {
      await withPlatform(deps.db, (trx) => revokeOperatorSessions(trx, before.id));
      throw accountLocked(counted.lockedUntil!);
    }
    throw badRequest('invalid_current_password', 'The current password is wrong.');
  }
  const unmet = unmetPasswordRules(change.newPassword, OPERATOR_PASSWORD_POLICY, before.email.split('@')[0]!);
  if (unmet.length === 0 && (await deps.passwords.verify(before.passwordHash, change.newPassword))) {
    unmet.push({ rule: 'reused', message: 'must differ from the current password' });
  }
  if (unmet.length > 0) {
    // Logged as a clinic user's refused change is: denied, with the rules it broke (never the password).
    await withPlatform(deps.db, (trx) =>
      recordPlatformEntry(trx, actor.audit, { action: 'operator.password.change', outcome: 'denied', targetType: 'operator', targetId: before.id, details: { code: 'password_policy', rules: unmet.map((u) => u.rule) } }),
    );
    throw badRequest('password_policy', 'The new password does not meet the operators\' policy.', { errors: unmet });
  }
  const passwordHash = await deps.passwords.hash(change.newPassword);
  const state = await withPlatform(deps.db, async (trx) => {
    const operator = await findOperator(trx, before.id, { forUpdate: true });
    if (!operator) throw unauthorized();
    // Changed by someone else (a reset) while we were hashing: the password we checked is gone.
    if (operator.passwordHash !== before.passwordHash) throw badRequest('invalid_current_password', 'The current password is wrong.');
    await setOperatorPassword(trx, operator.id, passwordHash, undefined);
    const next =
      session.state === 'password_change_required'
        ? stateAfterPasswordChange(operator, OPERATOR_PASSWORD_POLICY, (await listOperatorPasskeys(trx, operator.id)).length)
        : session.state;
    await revokeOperatorSessions(trx, operator.id, session.id);
    // A sign-in step moves on; an active session keeps its proof time: a password alone is not the
    // passkey that handing out access asks for (a session and a phished password minted keys).
    if (session.state !== 'active') await markOperatorSessionVerified(trx, session.id, next);
    await recordPlatformEntry(trx, actor.audit, { action: 'operator.password.change', outcome: 'success', targetType: 'operator', targetId: operator.id });
    return next;
  });
  return { state };
}
