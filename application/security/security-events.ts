import { listAllSecurityEvents, listSecurityEvents, type SecurityEventPageQuery, type SecurityEventRow } from '../../db/security-events';
import { withTenant } from '../../db/tenant-scope';
import { NO_CLINIC } from '../../domain/ids';
import { resolveProbeWindow } from '../../domain/login-probes';
import { decodeCursor, encodeCursor, type Keyset } from '../../domain/pagination';
import type { SecurityEventKind } from '../../domain/security-events';
import type { ClinicActor, Services } from '../deps';

/**
 * Who was refused what (security_events, written by SecurityEventRecorder): per source network,
 * kind and minute, with a count. A clinic's admins and auditors read the attempts about their
 * clinic; operators read every clinic's and those about no clinic.
 */
type Query = { from?: string; to?: string; kind?: SecurityEventKind; cursor?: string; limit: number };

export interface SecurityEventItem {
  minute: string;
  kind: SecurityEventKind;
  /** null: about no clinic (operator token, unknown clinic). */
  clinicId: string | null;
  clientNet: string;
  attempts: number;
  accountIds: string[];
  routes: string[];
}

const toItem = (r: SecurityEventRow): SecurityEventItem => ({
  minute: r.minute,
  kind: r.kind,
  clinicId: r.tenantId === NO_CLINIC ? null : r.tenantId,
  clientNet: r.clientNet,
  attempts: r.attempts,
  accountIds: r.accountIds,
  routes: r.routes,
});

function pageQuery(q: Query): SecurityEventPageQuery {
  return { ...resolveProbeWindow(q), kind: q.kind, limit: q.limit, before: decodeCursor(q.cursor) };
}

const answer = ({ rows, next }: { rows: SecurityEventRow[]; next: Keyset | null }) => ({
  items: rows.map(toItem),
  nextCursor: next ? encodeCursor(next) : null,
});

export async function listClinicSecurityEvents(deps: Pick<Services, 'db'>, actor: ClinicActor, q: Query) {
  return answer(await withTenant(deps.db, actor.tenantId, (trx) => listSecurityEvents(trx, pageQuery(q))));
}

/** `clinic`: one clinic's id, or `none` for attempts about no clinic. */
export async function listAllClinicsSecurityEvents(deps: Pick<Services, 'db'>, q: Query & { clinic?: string }) {
  const clinic = q.clinic === 'none' ? NO_CLINIC : q.clinic;
  return answer(await listAllSecurityEvents(deps.db, { ...pageQuery(q), clinic }));
}
