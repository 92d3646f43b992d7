import { getTenant, listTenants, type TenantPage } from '../../db/tenants';
import { decodeCursor } from '../../domain/pagination';
import type { Tenant, TenantStatus } from '../../domain/tenant';
import type { Services } from '../deps';

/** Operators' view of clinics (platform data: no clinic scope, nothing clinical). */
export function listClinics(deps: Pick<Services, 'db'>, q: { limit: number; cursor?: string; status?: TenantStatus }): Promise<TenantPage> {
  return listTenants(deps.db, { limit: q.limit, after: decodeCursor(q.cursor), status: q.status });
}

export function getClinic(deps: Pick<Services, 'db'>, tenantId: string): Promise<Tenant> {
  return getTenant(deps.db, tenantId);
}
