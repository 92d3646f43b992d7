import type { AuditContext } from '../../db/audit';
import { recordPlatformEntry } from '../../db/platform-log';
import { findApiKey, insertApiKey, listApiKeys, revokeApiKey, type ApiKeyRow } from '../../db/operators';
import { withPlatform } from '../../db/platform-scope';
import { isUuid } from '../../domain/ids';
import { watchingRolesNotHeld, type OperatorRole } from '../../domain/operator-roles';
import { forbidden, notFound } from '../../domain/problems';
import type { Services } from '../deps';
import { commitPlatformScopeThenDispatch } from '../commit-then-dispatch';
import { operatorAccessNotice } from './operator-access-notice';

/**
 * Scoped API keys for automation: a platform admin names a key, gives it roles and an expiry,
 * and sees its secret exactly once (`fcop_…`; only its SHA-256 is stored). A key is revoked,
 * never deleted; its last use (time and address) is shown, and every request made with it is
 * logged under its name.
 */

export type ApiKeyView = ApiKeyRow & { status: 'active' | 'expired' | 'revoked' };

const view = (k: ApiKeyRow, now = Date.now()): ApiKeyView => ({ ...k, status: k.revokedAt ? 'revoked' : k.expiresAt.getTime() <= now ? 'expired' : 'active' });

/**
 * A key gets a role that watches the others (`security`) only from someone who holds it
 * (`creatorRoles`: the person's roles as read for this request; break-glass holds them all): else
 * a platform admin could mint a `security` key and read the security events and the platform log
 * with it, which no second person gave them (attack run). 403 role_not_held. Other roles are a
 * platform admin's to give, as they give them to people.
 */
export async function createApiKey(
  deps: Pick<Services, 'db'> & Partial<Pick<Services, 'outbox'>>,
  audit: AuditContext,
  req: { name: string; roles: OperatorRole[]; expiresInSeconds: number },
  creatorRoles: readonly OperatorRole[],
): Promise<{ apiKey: ApiKeyView; key: string }> {
  const notHeld = watchingRolesNotHeld(creatorRoles, req.roles);
  if (notHeld.length > 0) {
    throw forbidden('role_not_held', `A key gets ${notHeld.join(', ')} only from an operator who holds it; you do not. Ask one who does.`);
  }
  return commitPlatformScopeThenDispatch(deps, async (trx, enqueue) => {
    const { key, row } = await insertApiKey(trx, {
      name: req.name,
      roles: req.roles,
      expiresAt: new Date(Date.now() + req.expiresInSeconds * 1000),
      createdBy: audit.actorId ?? 'unknown',
    });
    await recordPlatformEntry(trx, audit, { action: 'operator.api_key.create', outcome: 'success', targetType: 'operator_api_key', targetId: row.id, details: { roles: row.roles, expiresAt: row.expiresAt } });
    await enqueue(operatorAccessNotice(audit, 'api_key_created', row.id, row.roles));
    return { apiKey: view(row), key };
  });
}

export async function listAllApiKeys(deps: Pick<Services, 'db'>): Promise<ApiKeyView[]> {
  return withPlatform(deps.db, async (trx) => (await listApiKeys(trx)).map((k) => view(k)));
}

/** Revokes the key at once (its next request is 401); revoking a revoked key changes nothing. */
export async function revokeApiKeyById(deps: Pick<Services, 'db'>, audit: AuditContext, id: string): Promise<void> {
  await withPlatform(deps.db, async (trx) => {
    const key = isUuid(id) ? await findApiKey(trx, id) : undefined;
    if (!key) throw notFound('No such API key.');
    if (key.revokedAt) return;
    await revokeApiKey(trx, id, audit.actorId ?? 'unknown');
    await recordPlatformEntry(trx, audit, { action: 'operator.api_key.revoke', outcome: 'success', targetType: 'operator_api_key', targetId: id });
  });
}
