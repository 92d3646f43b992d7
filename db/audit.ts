import type { Db } from './connection';
import { AuditEventRow, type ActorType, type AuditOutcome } from './models/audit-event';
import { withTenant, type TenantTransaction } from './tenant-scope';

/**
 * The operation log (操作ログ). Entries are written through here only. The application's
 * database role may insert and read them, never change or delete them.
 * Details must never hold passwords, tokens or patient data in clear.
 */
export interface AuditContext {
  actorType: ActorType;
  actorId?: string | null;
  actorRoles?: string[];
  clientIp?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
}

export interface AuditEntry {
  action: string;
  outcome: AuditOutcome;
  targetType?: string;
  targetId?: string;
  details?: Record<string, unknown>;
}

export async function recordAudit(trx: TenantTransaction, context: AuditContext, entry: AuditEntry): Promise<void> {
  await AuditEventRow.query(trx).insert({
    actorType: context.actorType,
    actorId: context.actorId ?? null,
    actorRoles: context.actorRoles ?? [],
    clientIp: context.clientIp ?? null,
    userAgent: context.userAgent?.slice(0, 512) ?? null,
    requestId: context.requestId ?? null,
    action: entry.action,
    outcome: entry.outcome,
    targetType: entry.targetType ?? null,
    targetId: entry.targetId ?? null,
    details: entry.details ?? {},
  });
}

/** For failures: written in a transaction of its own, so it survives the rollback of the work it reports. */
export function recordAuditNow(db: Db, tenantId: string, context: AuditContext, entry: AuditEntry): Promise<void> {
  return withTenant(db, tenantId, (trx) => recordAudit(trx, context, entry));
}
