import { getAccount, listAccounts, toView, toViews, type AccountView } from '../../db/accounts';
import { withTenant } from '../../db/tenant-scope';
import { decodeCursor, encodeCursor } from '../../domain/pagination';
import type { ClinicActor, Services } from '../deps';

/** The clinic's accounts, oldest first, a page at a time (the cursor is opaque to clients). */
export async function listClinicAccounts(
  deps: Pick<Services, 'db'>,
  actor: ClinicActor,
  page: { limit: number; cursor?: string },
): Promise<{ items: AccountView[]; nextCursor: string | null }> {
  const after = decodeCursor(page.cursor);
  return withTenant(deps.db, actor.tenantId, async (trx) => {
    const { rows, next } = await listAccounts(trx, { limit: page.limit, after });
    return { items: await toViews(trx, rows), nextCursor: next ? encodeCursor(next) : null };
  });
}

/** One account with its onboarding and lockout state (404 for another clinic's). */
export async function readAccount(deps: Pick<Services, 'db'>, actor: ClinicActor, id: string): Promise<AccountView> {
  return withTenant(deps.db, actor.tenantId, async (trx) => toView(trx, await getAccount(trx, id)));
}
