import { BOOKING_HORIZON_DAYS } from '../domain/booking-horizon';
import { canonicalCidr } from '../domain/network';
import { DEFAULT_PASSWORD_POLICY, passwordPolicySchema, type PasswordPolicy } from '../domain/password-policy';
import { TenantSettingsRow } from './models/tenant-settings';
import { tenantIdOf, type TenantTransaction } from './tenant-scope';

/**
 * A stored setting that does not pass its own validation (the API refuses to save such values,
 * so it was edited in the database or written by a bug). Settings fail closed: nothing falls back
 * to a default, which might be looser or stricter than what the clinic chose; every operation
 * that needs the setting is refused until it is repaired. The message names the clinic, the
 * setting and what is wrong (never the stored value), and reaches the log through the API's
 * error mapper (an opaque 500 for the caller) or the activity's failure.
 */
export class InvalidStoredSettingError extends Error {
  constructor(tenantId: string | undefined, setting: string, problems: string[]) {
    super(`stored setting ${setting} of clinic ${tenantId ?? '?'} is invalid, refusing to use it: ${problems.join('; ')}`);
    this.name = 'InvalidStoredSettingError';
  }
}

/** A clinic's security settings; clinics that never saved a policy get the defaults. */
export async function getSettings(trx: TenantTransaction): Promise<{ policy: PasswordPolicy; allowlist: string[] }> {
  const row = await TenantSettingsRow.query(trx).first();
  return { policy: storedPolicy(trx, row?.passwordPolicy), allowlist: storedAllowlist(trx, row?.networkAllowlist ?? []) };
}

function storedPolicy(trx: TenantTransaction, stored: unknown): PasswordPolicy {
  if (stored === null || stored === undefined) return DEFAULT_PASSWORD_POLICY; // never saved
  const parsed = passwordPolicySchema.safeParse(stored);
  if (parsed.success) return parsed.data;
  throw new InvalidStoredSettingError(
    tenantIdOf(trx),
    'tenant_settings.password_policy',
    parsed.error.issues.map((i) => `${i.path.join('.') || '(policy)'}: ${i.message}`),
  );
}

function storedAllowlist(trx: TenantTransaction, stored: string[]): string[] {
  return checkedAllowlist(tenantIdOf(trx), stored);
}

/** A stored allowlist as read by session authentication: every entry a canonical network, else refused. */
export function checkedAllowlist(tenantId: string | undefined, stored: string[]): string[] {
  const bad = stored.filter((c) => canonicalCidr(c) !== c).length;
  if (bad === 0) return stored;
  throw new InvalidStoredSettingError(tenantId, 'tenant_settings.network_allowlist', [`${bad} entr${bad === 1 ? 'y is' : 'ies are'} not a canonical CIDR`]);
}

/**
 * Takes the clinic's settings row for the rest of the transaction, made with the defaults if the
 * clinic never saved any. A save that logs what it replaced calls this first: concurrent saves then
 * go one after another, each reading "before" once the previous has committed, so every entry's
 * before is the previous entry's after (20 saves at once had logged the same before several times).
 */
export async function lockSettings(trx: TenantTransaction): Promise<void> {
  const tenantId = tenantIdOf(trx)!;
  await trx.raw(`insert into tenant_settings (tenant_id, network_allowlist) values (?, '{}') on conflict (tenant_id) do nothing`, [tenantId]);
  await trx.raw('select 1 from tenant_settings where tenant_id = ? for update', [tenantId]);
}

async function upsert(trx: TenantTransaction, patch: Partial<Pick<TenantSettingsRow, 'passwordPolicy' | 'networkAllowlist' | 'adminsSeeAllProcesses' | 'bookingHorizonDays'>>) {
  const updated = await TenantSettingsRow.query(trx).patch({ ...patch, updatedAt: trx.fn.now() as never });
  if (updated > 0) return;
  // The clinic's first save: two at once both found no row; the second waits for the first's
  // insert and then changes it, instead of failing on the key (409 to an identical request).
  await TenantSettingsRow.query(trx).insert({ networkAllowlist: [], ...patch }).onConflict('tenantId').ignore();
  await TenantSettingsRow.query(trx).patch({ ...patch, updatedAt: trx.fn.now() as never });
}

export const savePasswordPolicy = (trx: TenantTransaction, policy: PasswordPolicy) => upsert(trx, { passwordPolicy: policy });
export const saveAllowlist = (trx: TenantTransaction, cidrs: string[]) => upsert(trx, { networkAllowlist: cidrs });
export const saveProcessSettings = (trx: TenantTransaction, adminsSeeAll: boolean) => upsert(trx, { adminsSeeAllProcesses: adminsSeeAll });
export const saveBookingHorizon = (trx: TenantTransaction, days: number) => upsert(trx, { bookingHorizonDays: days });

/** How many days ahead the clinic takes bookings (the default for a clinic that never saved settings). */
export async function bookingHorizonDays(trx: TenantTransaction): Promise<number> {
  const row = (await trx('tenant_settings').where({ tenant_id: tenantIdOf(trx) }).first('booking_horizon_days')) as { bookingHorizonDays: number } | undefined;
  return row?.bookingHorizonDays ?? BOOKING_HORIZON_DAYS.default;
}
