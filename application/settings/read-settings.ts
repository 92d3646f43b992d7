import { adminsSeeAllProcesses } from '../../db/processes';
import { bookingHorizonDays, getSettings } from '../../db/settings';
import { withTenant } from '../../db/tenant-scope';
import type { ClinicActor, Services } from '../deps';

/** The clinic's security settings as saved (defaults for what never was): password policy and allowlist. */
export async function readSecuritySettings(deps: Pick<Services, 'db'>, actor: ClinicActor) {
  return withTenant(deps.db, actor.tenantId, (trx) => getSettings(trx));
}

/** Whether administrators see every process area. */
export async function readProcessSettings(deps: Pick<Services, 'db'>, actor: ClinicActor): Promise<{ adminsSeeAllProcesses: boolean }> {
  return { adminsSeeAllProcesses: await withTenant(deps.db, actor.tenantId, (trx) => adminsSeeAllProcesses(trx)) };
}

/** How many days ahead the clinic takes bookings (the default until saved). */
export async function readBookingSettings(deps: Pick<Services, 'db'>, actor: ClinicActor): Promise<{ horizonDays: number }> {
  return { horizonDays: await withTenant(deps.db, actor.tenantId, (trx) => bookingHorizonDays(trx)) };
}
