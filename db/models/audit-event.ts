import { TenantScopedModel } from '../tenant-scope';

export type AuditOutcome = 'success' | 'denied' | 'failed';
export type ActorType = 'account' | 'operator' | 'system' | 'anonymous';

export class AuditEventRow extends TenantScopedModel {
  static tableName = 'audit_events';
  static jsonAttributes = ['details'];

  id!: string;
  occurredAt!: Date;
  actorType!: ActorType;
  actorId!: string | null;
  actorRoles!: string[];
  action!: string;
  targetType!: string | null;
  targetId!: string | null;
  outcome!: AuditOutcome;
  clientIp!: string | null;
  userAgent!: string | null;
  requestId!: string | null;
  details!: Record<string, unknown>;
}
