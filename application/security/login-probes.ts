import { listLoginProbes, type LoginProbe } from '../../db/login-probes';
import { withTenant } from '../../db/tenant-scope';
import { NO_CLINIC } from '../../domain/ids';
import { decodeProbeCursor, encodeProbeCursor, resolveProbeWindow } from '../../domain/login-probes';
import type { ClinicActor, Services } from '../deps';

/**
 * Who knocks at the door: logins to login IDs that do not exist, per source network (IPv4
 * address, IPv6 /64) and minute, with a count and the login IDs' HMACs (never a login ID in
 * clear). Admins and auditors read their clinic's; operators read those to clinics that do not exist.
 */
type ProbeQuery = { from?: string; to?: string; cursor?: string; limit: number };

async function page(deps: Pick<Services, 'db'>, scope: string, q: ProbeQuery): Promise<{ items: LoginProbe[]; nextCursor: string | null }> {
  const window = resolveProbeWindow(q);
  const { rows, next } = await withTenant(deps.db, scope, (trx) => listLoginProbes(trx, { ...window, limit: q.limit, before: decodeProbeCursor(q.cursor) }));
  return { items: rows, nextCursor: next ? encodeProbeCursor(next) : null };
}

export const listClinicLoginProbes = (deps: Pick<Services, 'db'>, actor: ClinicActor, q: ProbeQuery) => page(deps, actor.tenantId, q);

export const listUnknownClinicLoginProbes = (deps: Pick<Services, 'db'>, q: ProbeQuery) => page(deps, NO_CLINIC, q);
