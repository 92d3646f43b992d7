import type { Db } from '../db/connection';
import type { Vault } from '../lib/crypto/vault';
import type { Logger } from '../lib/logger';
import type { PasswordHasher } from '../lib/password-hash';
import type { TemporalClient } from '../temporal/client';
import type { WorkflowOutbox } from '../temporal/workflow-outbox';
import type { AuditContext } from '../db/audit';
import type { SessionState } from '../domain/sign-in';
import type { SecurityEventRecorder } from './security/security-event-recorder';
import type { ReadLog } from './audit/read-log';
import type { OperatorPrincipal } from '../domain/operator-roles';

/**
 * What use cases run on. Each use case takes only the parts it needs (`Pick<Services, …>`), so
 * its signature says which systems it touches.
 */
export interface Services {
  db: Db;
  vault: Vault;
  temporal: TemporalClient;
  outbox: WorkflowOutbox;
  taskQueue: string;
  log: Logger;
  /** Every argon2 computation goes through it (bounded concurrency and queue). */
  passwords: PasswordHasher;
  /** Denied attempts, aggregated per source and minute, written outside the caller's transaction. */
  securityEvents: SecurityEventRecorder;
  /** The operation-log entries of reads, in group commits per clinic. */
  readLog: ReadLog;
}

/** Who asks, as the operation log records them. Built by the API from the request. */
export interface Actor {
  audit: AuditContext;
}

/** A signed-in clinic user. */
export interface ClinicActor extends Actor {
  tenantId: string;
  accountId: string;
  roles: readonly string[];
}

/** A signed-in clinic user acting on their own session (logout, password change, passkeys). */
export interface SessionActor extends ClinicActor {
  sessionId: string;
  sessionState: SessionState;
}

/** An operator: a person signed in (with their session), an API key, or break-glass. */
export interface OperatorActor extends Actor {
  operator: OperatorPrincipal;
  /** Only for a person signed in: the session the request came with. */
  session?: { id: string; state: SessionState; verifiedAt: Date };
}
