import { WebauthnCredentialRow } from './models/webauthn';
import type { TenantTransaction } from './tenant-scope';

/** Passkeys, in one clinic's withTenant() transaction. */

export async function passkeyCount(trx: TenantTransaction, accountId: string): Promise<number> {
  const row = (await WebauthnCredentialRow.query(trx).where({ accountId }).count('* as n').first()) as unknown as { n: string } | undefined;
  return Number(row?.n ?? 0);
}
