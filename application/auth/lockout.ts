import type { LockoutNotice } from '../../activities/account-lockout';
import { countAccountFailure } from '../../db/login-failures';
import { recordAudit, type AuditContext } from '../../db/audit';
import type { TenantTransaction } from '../../db/tenant-scope';
import type { CountedFailure } from '../../domain/lockout';
import type { PasswordPolicy } from '../../domain/password-policy';
import { Problem } from '../../domain/problems';
import { TENANT_ID } from '../../temporal/search-attributes';
import { accountLockoutWorkflowId } from '../../temporal/workflow-ids';
import type { accountLockoutWorkflow } from '../../workflows/account-lockout';
import type { Enqueue } from '../commit-then-dispatch';

/**
 * What a wrong password does to an account, wherever it was typed (login, password change,
 * re-authentication): it counts toward the clinic's lockout in one statement; the failure that
 * locks is logged and starts the notice workflow (holder and admins are mailed once per lockout).
 */
export const accountLocked = (until: Date) =>
  new Problem(423, 'account_locked', 'Locked', 'The account is locked after repeated failed attempts. Wait, or ask an administrator to unlock it.', {
    lockedUntil: until.toISOString(),
  });

/** The start of one lockout's notice workflow, as an outbox intent. */
export function lockoutNotice(notice: LockoutNotice): { kind: 'start'; workflowId: string; workflowType: string; args: Parameters<typeof accountLockoutWorkflow>; searchAttributes: Record<string, string> } {
  return {
    kind: 'start',
    workflowId: accountLockoutWorkflowId(notice.accountId, notice.lockout),
    workflowType: 'accountLockoutWorkflow',
    args: [notice],
    searchAttributes: { [TENANT_ID.name]: notice.tenantId },
  };
}

/**
 * Counts a wrong password of the account (inside its clinic's transaction). Returns the lock's
 * end if the account is (now) locked, or undefined if it is not.
 */
export async function countWrongPassword(
  trx: TenantTransaction,
  enqueue: Enqueue,
  audit: AuditContext,
  account: { id: string; tenantId: string },
  policy: PasswordPolicy,
): Promise<Date | undefined> {
  const counted = await countAccountFailure(trx, account.id, policy.lockout);
  if (counted.lockedNow) await recordLockout(trx, enqueue, audit, account, counted);
  return counted.lockedUntil && (counted.lockedNow || !counted.counted) ? counted.lockedUntil : undefined;
}

async function recordLockout(trx: TenantTransaction, enqueue: Enqueue, audit: AuditContext, account: { id: string; tenantId: string }, counted: CountedFailure): Promise<void> {
  const lockedUntil = counted.lockedUntil!.toISOString();
  await recordAudit(trx, audit, {
    action: 'account.lockout',
    outcome: 'success',
    targetType: 'account',
    targetId: account.id,
    details: { failures: counted.failedLoginCount, lockedUntil, lockout: counted.lockouts },
  });
  await enqueue(lockoutNotice({ tenantId: account.tenantId, accountId: account.id, lockout: counted.lockouts, lockedUntil }));
}
