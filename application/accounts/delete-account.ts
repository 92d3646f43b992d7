import { deleteAccount as removeAccount } from '../../db/accounts';
import { lockGroupsOf } from '../../db/groups';
import { recordAudit } from '../../db/audit';
import { lockAreasListing, removePrincipalAccess } from '../../db/processes';
import { commitThenDispatch } from '../commit-then-dispatch';
import { endOnboarding } from './onboarding';
import { withRefusalsLogged } from '../audit/refusals';
import { unlinkFormerDoctor } from '../practitioners/unlink-former-doctor';
import type { ClinicActor, Services } from '../deps';

/**
 * An admin deletes an account: its sessions, passkeys, group memberships and places on areas' access lists go with it, and its
 * link to a doctor's schedule; its onboarding workflow, if still waiting, ends after commit; never
 * the last admin (a refusal is logged).
 */
export async function deleteAccount(deps: Pick<Services, 'db' | 'log' | 'outbox'>, actor: ClinicActor, id: string): Promise<void> {
  const attempt = { action: 'account.delete', targetType: 'account', targetId: id };
  await withRefusalsLogged(deps, actor.tenantId, actor.audit, attempt, () =>
    commitThenDispatch(deps, actor.tenantId, async (trx, enqueue) => {
      // Areas, then groups, then the account: the order the changes that list it take them in.
      await lockAreasListing(trx, 'account', id);
      await lockGroupsOf(trx, id);
      const removed = await removeAccount(trx, id);
      // Its onboarding would otherwise wait for a first login (or a reset) that can no longer come.
      const ended = endOnboarding(removed);
      if (ended) await enqueue(ended);
      const practitionersUnlinked = await unlinkFormerDoctor(trx, actor.audit, id, 'account_deleted');
      const processAccessRemoved = await removePrincipalAccess(trx, 'account', removed.id);
      const details = { ...(practitionersUnlinked.length ? { practitionersUnlinked } : {}), ...(processAccessRemoved.length ? { processAccessRemoved } : {}) };
      await recordAudit(trx, actor.audit, { ...attempt, outcome: 'success', ...(Object.keys(details).length ? { details } : {}) });
    }),
  );
}
