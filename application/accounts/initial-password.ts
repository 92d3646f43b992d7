import { getAccount, type InitialPassword } from '../../db/accounts';
import { getSettings } from '../../db/settings';
import { withTenant } from '../../db/tenant-scope';
import { generateInitialPassword, unmetPasswordRules } from '../../domain/password-policy';
import { badRequest } from '../../domain/problems';
import type { Services } from '../deps';

/** An initial password the administrator chose, and whose login ID it must not contain (given, or the account's). */
export type ChosenInitialPassword = { password: string } & ({ loginId: string } | { accountId: string });

/**
 * The initial password of a new or reset account: the administrator's choice (the clinic's terms
 * let the administrator set it), checked against the clinic's policy first — a refused one is
 * never hashed (400 password_policy, every unmet rule listed) — or, when none is given, a random
 * one under the policy. Hashed before the transaction that stores it opens (argon2 takes tens of
 * milliseconds on purpose; no connection waits for it). Only a generated password is returned,
 * to be shown once; a chosen one is never returned or logged.
 */
export async function issueInitialPassword(
  deps: Pick<Services, 'db' | 'passwords'>,
  tenantId: string,
  chosen?: ChosenInitialPassword,
): Promise<{ initialPassword?: string; initial: InitialPassword }> {
  const { policy, loginId } = await withTenant(deps.db, tenantId, async (trx) => ({
    ...(await getSettings(trx)),
    loginId: !chosen ? '' : 'loginId' in chosen ? chosen.loginId : (await getAccount(trx, chosen.accountId)).loginId,
  }));
  if (chosen) {
    const unmet = unmetPasswordRules(chosen.password, policy, loginId);
    if (unmet.length > 0) throw badRequest('password_policy', 'The initial password does not meet the clinic\'s policy.', { errors: unmet });
  }
  const password = chosen?.password ?? generateInitialPassword(policy);
  const passwordHash = await deps.passwords.hash(password);
  return {
    ...(chosen ? {} : { initialPassword: password }),
    initial: { passwordHash, expiresAt: new Date(Date.now() + policy.initialPasswordTtlSeconds * 1000) },
  };
}
