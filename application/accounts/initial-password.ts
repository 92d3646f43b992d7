import type { InitialPassword } from '../../db/accounts';
import { getSettings } from '../../db/settings';
import { withTenant } from '../../db/tenant-scope';
import { generateInitialPassword } from '../../domain/password-policy';
import type { Services } from '../deps';

/**
 * A new initial password under the clinic's policy, hashed before the transaction that stores
 * it opens (argon2 takes tens of milliseconds on purpose; no connection waits for it).
 */
export async function issueInitialPassword(deps: Pick<Services, 'db' | 'passwords'>, tenantId: string): Promise<{ initialPassword: string; initial: InitialPassword }> {
  const { policy } = await withTenant(deps.db, tenantId, (trx) => getSettings(trx));
  const initialPassword = generateInitialPassword(policy);
  const passwordHash = await deps.passwords.hash(initialPassword);
  return { initialPassword, initial: { passwordHash, expiresAt: new Date(Date.now() + policy.initialPasswordTtlSeconds * 1000) } };
}
