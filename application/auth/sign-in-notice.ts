import type { SignInNotice } from '../../activities/sign-in-notice';
import { signedInFromBefore } from '../../db/sessions';
import type { TenantTransaction } from '../../db/tenant-scope';
import { TENANT_ID } from '../../temporal/search-attributes';
import { signInNoticeWorkflowId } from '../../temporal/workflow-ids';
import type { signInNoticeWorkflow } from '../../workflows/sign-in-notice';

/**
 * A sign-in from somewhere new (新しい端末からのログイン): a password login of an account that
 * has signed in before, with a browser from a network none of its kept sessions came from
 * (db/sessions.ts signedInFromBefore). Its holder is mailed, once, so that a password used by
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
  return !(await signedInFromBefore(trx, account.id, req.clientIp, req.userAgent));
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
