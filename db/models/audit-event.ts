/** The operation log's vocabulary (entries are written by db/audit.ts as plain SQL). */
export type AuditOutcome = 'success' | 'denied' | 'failed';
export type ActorType = 'account' | 'operator' | 'system' | 'anonymous';
