import { WebauthnChallengeRow, WebauthnCredentialRow } from './models/webauthn';
import type { TenantTransaction } from './tenant-scope';

/** Passkeys and their ceremonies' challenges, in one clinic's withTenant() transaction. */

export type ChallengePurpose = 'registration' | 'authentication';

/** Keeps one outstanding challenge per session and purpose (stale ones go), valid until `expiresAt`. */
export async function storeChallenge(trx: TenantTransaction, sessionId: string, purpose: ChallengePurpose, challenge: string, expiresAt: Date): Promise<void> {
  await WebauthnChallengeRow.query(trx).delete().where({ sessionId, purpose });
  await WebauthnChallengeRow.query(trx).insert({ sessionId, purpose, challenge, expiresAt });
}

/** Deletes the challenge if it belongs to this session, has this purpose and is fresh; false if there was none. */
export async function consumeChallenge(trx: TenantTransaction, sessionId: string, purpose: ChallengePurpose, challenge: string): Promise<boolean> {
  const deleted = await WebauthnChallengeRow.query(trx).delete().where({ sessionId, purpose, challenge }).where('expiresAt', '>', new Date());
  return deleted > 0;
}

export async function passkeyCount(trx: TenantTransaction, accountId: string): Promise<number> {
  return (await passkeyCounts(trx, [accountId])).get(accountId) ?? 0;
}

/** Passkeys per account for a page of accounts, in one query (an account without any is absent). */
export async function passkeyCounts(trx: TenantTransaction, accountIds: readonly string[]): Promise<Map<string, number>> {
  if (accountIds.length === 0) return new Map();
  const rows = (await WebauthnCredentialRow.query(trx).select('accountId').count('* as n').whereIn('accountId', accountIds).groupBy('accountId')) as unknown as Array<{ accountId: string; n: string }>;
  return new Map(rows.map((r) => [r.accountId, Number(r.n)]));
}

/** The account's passkeys, oldest first; locked with `forUpdate` (to decide about removing one). */
export async function listPasskeys(trx: TenantTransaction, accountId: string, opts: { forUpdate?: boolean } = {}): Promise<WebauthnCredentialRow[]> {
  const q = WebauthnCredentialRow.query(trx).where({ accountId }).orderBy('createdAt');
  if (opts.forUpdate) q.forUpdate();
  return q;
}

/** A passkey by the authenticator's credential id, of any account of the clinic or of `accountId` only. */
export async function findPasskey(
  trx: TenantTransaction,
  credentialId: string,
  opts: { accountId?: string; forUpdate?: boolean } = {},
): Promise<WebauthnCredentialRow | undefined> {
  const q = WebauthnCredentialRow.query(trx).findOne({ credentialId, ...(opts.accountId ? { accountId: opts.accountId } : {}) });
  if (opts.forUpdate) q.forUpdate();
  return q;
}

/** What a verified registration yields about a passkey, whoever it belongs to (clinic user or operator). */
export interface PasskeyMaterial {
  credentialId: string;
  publicKey: Buffer;
  counter: number;
  transports: string[];
  deviceType: string;
  backedUp: boolean;
}

export interface NewPasskey extends PasskeyMaterial {
  accountId: string;
  name: string;
}

export const insertPasskey = (trx: TenantTransaction, passkey: NewPasskey) => WebauthnCredentialRow.query(trx).insertAndFetch(passkey);

/** After a verified assertion: the authenticator's new signature counter. */
export async function recordPasskeyUse(trx: TenantTransaction, id: string, counter: number): Promise<void> {
  await WebauthnCredentialRow.query(trx).patch({ counter, lastUsedAt: new Date() }).where({ id });
}

export async function deletePasskey(trx: TenantTransaction, id: string): Promise<void> {
  await WebauthnCredentialRow.query(trx).delete().where({ id });
}
