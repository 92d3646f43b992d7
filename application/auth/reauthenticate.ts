import { recordAudit } from '../../db/audit';
import { markSessionVerified, sessionVerification } from '../../db/sessions';
import { withTenant, type TenantTransaction } from '../../db/tenant-scope';
import { forbidden } from '../../domain/problems';
import { isFreshlyVerified, REAUTHENTICATION_WINDOW_SECONDS } from '../../domain/sign-in';
import type { Services, SessionActor } from '../deps';
import { proveOwnPassword } from './own-password';

/**
 * Sensitive changes to an account's way in (adding or removing a passkey) need a password or a
 * passkey proved within the last REAUTHENTICATION_WINDOW_SECONDS, not just a live session: a
 * session left open or stolen must not let its holder enrol their own passkey. Logging in,
 * changing the password, a passkey assertion and this use case count as proofs.
 */
export async function reauthenticate(deps: Pick<Services, 'db' | 'outbox' | 'passwords'>, actor: SessionActor, password: string): Promise<void> {
  await proveOwnPassword(deps, actor, password, 'session.reauthenticate');
  await withTenant(deps.db, actor.tenantId, async (trx) => {
    await markSessionVerified(trx, actor.sessionId, 'password');
    await recordAudit(trx, actor.audit, { action: 'session.reauthenticate', outcome: 'success', targetType: 'account', targetId: actor.accountId, details: { method: 'password' } });
  });
}

/**
 * The same check in a transaction of its own, before a change's slow work (hashing) begins: for
 * changes that hand out access — a new account, an initial password, a role, the clinic's
 * allowlist or sign-in rules —, so that a session left open or stolen cannot plant a way back in
 * (an account of its own, a weaker rule) that outlives it.
 */
export async function requireRecentProofFirst(deps: Pick<Services, 'db'>, actor: SessionActor): Promise<void> {
  await withTenant(deps.db, actor.tenantId, (trx) => requireRecentProof(trx, actor));
}

/** 403 reauthentication_required unless the session proved a password or passkey recently. */
export async function requireRecentProof(trx: TenantTransaction, actor: SessionActor): Promise<void> {
  const v = await sessionVerification(trx, actor.sessionId);
  if (!v || !isFreshlyVerified(v.verifiedAt, v.now)) {
    throw forbidden(
      'reauthentication_required',
      `Confirm your password (POST /v1/auth/reauthenticate) or a passkey (/v1/auth/webauthn/authentication/*) first: this needs a proof from the last ${REAUTHENTICATION_WINDOW_SECONDS / 60} minutes.`,
    );
  }
}
