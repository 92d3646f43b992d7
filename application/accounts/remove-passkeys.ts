import { getAccount } from '../../db/accounts';
import { recordAudit } from '../../db/audit';
import { revokeAccountSessions } from '../../db/sessions';
import { withTenant } from '../../db/tenant-scope';
import { listPasskeys, deletePasskey } from '../../db/webauthn';
import { conflict } from '../../domain/problems';
import { withRefusalsLogged } from '../audit/refusals';
import { requireRecentProof } from '../auth/reauthenticate';
import type { Services, SessionActor } from '../deps';

/**
 * An admin removes every passkey of another account: the way out for a lost authenticator (its
 * holder is otherwise stuck at the second step) and the way to neutralise a stolen one without
 * disabling the account. Every session of the account ends too, since one may have presented the
 * stolen passkey. The password stays; at the next sign-in the holder registers a new passkey
 * (the clinic's two-step rule asks for it, or they add one themselves). Needs a fresh proof from
 * the admin, as changing one's own passkeys does; one's own go through /v1/auth/webauthn/credentials.
 */
export async function removeAccountPasskeys(deps: Pick<Services, 'db'>, actor: SessionActor, id: string): Promise<{ removed: number }> {
  const attempt = { action: 'account.passkeys_remove', targetType: 'account', targetId: id };
  return withRefusalsLogged(deps, actor.tenantId, actor.audit, attempt, () =>
    withTenant(deps.db, actor.tenantId, async (trx) => {
      await requireRecentProof(trx, actor);
      const account = await getAccount(trx, id, { forUpdate: true });
      if (account.id === actor.accountId) throw conflict('own_account', 'Remove your own passkeys one by one (DELETE /v1/auth/webauthn/credentials/:id).');
      const passkeys = await listPasskeys(trx, account.id, { forUpdate: true });
      for (const p of passkeys) await deletePasskey(trx, p.id);
      const sessionsEnded = await revokeAccountSessions(trx, account.id);
      await recordAudit(trx, actor.audit, { ...attempt, outcome: 'success', details: { passkeysRemoved: passkeys.map((p) => p.id), sessionsEnded } });
      return { removed: passkeys.length };
    }),
  );
}
