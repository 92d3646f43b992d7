import type { SignInNotice } from '../../activities/sign-in-notice';
import { keptUserAgent, newDeviceSignInsToday, userAgentsFromNetwork } from '../../db/sessions';
import { sameDevice } from '../../domain/sign-in-device';
import type { TenantTransaction } from '../../db/tenant-scope';
import { TENANT_ID } from '../../temporal/search-attributes';
import { signInNoticeWorkflowId } from '../../temporal/workflow-ids';
import type { signInNoticeWorkflow } from '../../workflows/sign-in-notice';

/**
 * A sign-in from somewhere new (新しい端末からのログイン): a password login of an account that
 * has signed in before, from a network none of its kept sessions came from, or with a browser
 * (browser and system, domain/sign-in-device.ts sameDevice) none of them used from that network. Its holder is mailed, once, so that a password used by
 * someone else does not go unnoticed until the next audit: the mail says when, from which address
 * and with which browser, and how to end sessions one does not know. A first sign-in (the initial
 * password) mails nobody: there is nothing to compare it with, and the holder just got the account.
 */
export async function isSignInFromSomewhereNew(
  trx: TenantTransaction,
  account: { id: string; lastLoginAt: Date | null },
  req: { clientIp: string | null; userAgent?: string | null },
): Promise<boolean> {
  if (account.lastLoginAt === null) return false;
  const agent = keptUserAgent(req.userAgent);
  return !(await userAgentsFromNetwork(trx, account.id, req.clientIp)).some((seen) => sameDevice(seen, agent));
}

/**
 * Notices an account gets in a day at most. Successful logins are not limited (only failures
 * are), so without a cap anyone holding a password could mail its holder once per made-up
 * browser, burying the notices that matter (and our sending reputation). Sign-ins past it are
 * still marked and logged (`noticeSuppressed`); the first notices of the day already said what
 * to do.
 */
export const SIGN_IN_NOTICES_PER_DAY = 3;

/** Whether a sign-in from somewhere new may still be mailed today (asked before its session is made). */
export async function signInNoticeAllowed(trx: TenantTransaction, accountId: string): Promise<boolean> {
  return (await newDeviceSignInsToday(trx, accountId)) < SIGN_IN_NOTICES_PER_DAY;
}

/** The start of one sign-in's notice workflow, as an outbox intent. */
export function signInNotice(notice: SignInNotice): { kind: 'start'; workflowId: string; workflowType: string; args: Parameters<typeof signInNoticeWorkflow>; searchAttributes: Record<string, string> } {
  return {
    kind: 'start',
    workflowId: signInNoticeWorkflowId(notice.sessionId),
    workflowType: 'signInNoticeWorkflow',
    args: [notice],
    searchAttributes: { [TENANT_ID.name]: notice.tenantId },
  };
}
