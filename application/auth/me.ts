import { findAccount } from '../../db/accounts';
import { withTenant } from '../../db/tenant-scope';
import { passkeyCount } from '../../db/webauthn';
import { unauthorized } from '../../domain/problems';
import type { ClinicActor, Services } from '../deps';

export interface Me {
  accountId: string;
  loginId: string;
  displayName: string;
  email: string;
  roles: string[];
  passkeyCount: number;
}

/** The signed-in account as its owner sees it. */
export async function readMe(deps: Pick<Services, 'db'>, actor: ClinicActor): Promise<Me> {
  return withTenant(deps.db, actor.tenantId, async (trx) => {
    const a = await findAccount(trx, actor.accountId);
    if (!a) throw unauthorized();
    return { accountId: a.id, loginId: a.loginId, displayName: a.displayName, email: a.email, roles: a.roles, passkeyCount: await passkeyCount(trx, a.id) };
  });
}
