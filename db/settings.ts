import { DEFAULT_PASSWORD_POLICY, passwordPolicySchema, type PasswordPolicy } from '../domain/password-policy';
import { TenantSettingsRow } from './models/tenant-settings';
import type { TenantTransaction } from './tenant-scope';

/** A clinic's security settings; clinics that never saved any get the defaults. */
export async function getSettings(trx: TenantTransaction): Promise<{ policy: PasswordPolicy; allowlist: string[] }> {
  const row = await TenantSettingsRow.query(trx).first();
  const stored = row?.passwordPolicy ? passwordPolicySchema.safeParse(row.passwordPolicy) : undefined;
  return { policy: stored?.success ? stored.data : DEFAULT_PASSWORD_POLICY, allowlist: row?.networkAllowlist ?? [] };
}

async function upsert(trx: TenantTransaction, patch: Partial<Pick<TenantSettingsRow, 'passwordPolicy' | 'networkAllowlist' | 'adminsSeeAllProcesses'>>) {
  const updated = await TenantSettingsRow.query(trx).patch({ ...patch, updatedAt: trx.fn.now() as never });
  if (updated === 0) await TenantSettingsRow.query(trx).insert({ networkAllowlist: [], ...patch });
}

export const savePasswordPolicy = (trx: TenantTransaction, policy: PasswordPolicy) => upsert(trx, { passwordPolicy: policy });
export const saveAllowlist = (trx: TenantTransaction, cidrs: string[]) => upsert(trx, { networkAllowlist: cidrs });
export const saveProcessSettings = (trx: TenantTransaction, adminsSeeAll: boolean) => upsert(trx, { adminsSeeAllProcesses: adminsSeeAll });
