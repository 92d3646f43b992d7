import { recordAudit, type AuditContext, type AuditEntry } from '../../db/audit';
import type { Db } from '../../db/connection';
import { addSecurityEvent } from '../../db/security-events';
import { outsideClinicWrite, withTenant } from '../../db/tenant-scope';
import { NO_CLINIC } from '../../domain/ids';
import { addressKey } from '../../domain/network';
import type { SecurityEventKind } from '../../domain/security-events';
import type { Logger } from '../../lib/logger';

/** One denied attempt, as the API or a use case saw it. */
export interface DeniedAttempt {
  kind: SecurityEventKind;
  /** The clinic the attempt was about, when one is known. */
  tenantId?: string;
  clientIp: string;
  /** The signed-in account that tried, if any. */
  accountId?: string;
  /** The route template (`GET /v1/patients/:id`), never the ids that were asked for. */
  route?: string;
  /** An operation-log entry for the first attempt of its source, kind and minute only (clinics only). */
  audit?: { context: AuditContext; entry: AuditEntry };
}

export interface RecorderLimits {
  /** Writes in flight at once (pool connections this may hold). */
  writers: number;
  /** Distinct (clinic, kind, source) waiting to be written; beyond that attempts are only counted in the log. */
  pendingKeys: number;
  /** How long an answer waits for its attempt to be written before it goes out anyway. */
  waitMs: number;
}

interface Batch {
  scope: string;
  kind: SecurityEventKind;
  clientNet: string;
  attempts: number;
  accountIds: Set<string>;
  routes: Set<string>;
  audit?: DeniedAttempt['audit'];
  written: Promise<void>;
  settle: () => void;
}

const DEFAULT_LIMITS: RecorderLimits = { writers: 2, pendingKeys: 1_000, waitMs: 2_000 };

/**
 * Records denied attempts in `security_events`, aggregated per (clinic or none, kind, source
 * network, minute) with a count: one upsert in a short transaction of its own, never inside the
 * request's work, so the row is shared by every API process.
 *
 * An attacker decides how many attempts arrive, so the writing is bounded here too: attempts of
 * one key that arrive while its row is being written are added up and written together by the
 * next statement (a flood from one source is a handful of statements, not one per request, and
 * never queues on its own row lock); at most `writers` statements run at once; at most
 * `pendingKeys` keys wait, and attempts beyond that are dropped and counted in a warning. The
 * caller's answer waits for its attempt's write (so what it saw is recorded when it sees the
 * answer) but at most `waitMs`, and a failed write is logged, never thrown: a refusal stays the
 * caller's 4xx whatever happens to its record.
 */
export class SecurityEventRecorder {
  private readonly pending = new Map<string, Batch>();
  private readonly writing = new Set<string>();
  private dropped = 0;
  private lastDropWarning = 0;

  constructor(
    private readonly deps: { db: Db; log: Logger },
    private readonly limits: RecorderLimits = DEFAULT_LIMITS,
  ) {}

  record(attempt: DeniedAttempt): Promise<void> {
    const scope = attempt.tenantId ?? NO_CLINIC;
    const clientNet = addressKey(attempt.clientIp);
    const key = `${scope} ${attempt.kind} ${clientNet}`;
    let batch = this.pending.get(key);
    if (!batch) {
      if (this.pending.size >= this.limits.pendingKeys) return this.drop();
      batch = this.newBatch(scope, attempt.kind, clientNet);
      this.pending.set(key, batch);
    }
    batch.attempts += 1;
    if (attempt.accountId) batch.accountIds.add(attempt.accountId);
    if (attempt.route) batch.routes.add(attempt.route);
    // The first attempt's entry stands for the batch: only a batch that creates the row writes one.
    if (attempt.audit && !batch.audit && attempt.tenantId) batch.audit = attempt.audit;
    this.pump();
    return batch.written;
  }

  private newBatch(scope: string, kind: SecurityEventKind, clientNet: string): Batch {
    let settle!: () => void;
    const written = new Promise<void>((resolve) => {
      settle = resolve;
    });
    // The answer goes out after waitMs even if the write has not finished (a stalled database).
    const timer = setTimeout(settle, this.limits.waitMs);
    timer.unref();
    return {
      scope,
      kind,
      clientNet,
      attempts: 0,
      accountIds: new Set(),
      routes: new Set(),
      written,
      settle: () => {
        clearTimeout(timer);
        settle();
      },
    };
  }

  /** Starts writes, oldest batch first, while fewer than `writers` run and no write of the same key is in flight. */
  private pump(): void {
    for (const [key, batch] of this.pending) {
      if (this.writing.size >= this.limits.writers) return;
      if (this.writing.has(key)) continue;
      this.pending.delete(key);
      this.writing.add(key);
      // Other requests' attempts are in the batch (outsideClinicWrite).
      void outsideClinicWrite(() => this.write(batch)).finally(() => {
        this.writing.delete(key);
        batch.settle();
        this.pump();
      });
    }
  }

  private async write(batch: Batch): Promise<void> {
    try {
      await withTenant(this.deps.db, batch.scope, async (trx) => {
        const first = await addSecurityEvent(trx, {
          kind: batch.kind,
          clientNet: batch.clientNet,
          attempts: batch.attempts,
          accountIds: [...batch.accountIds],
          routes: [...batch.routes],
        });
        if (first && batch.audit) await recordAudit(trx, batch.audit.context, batch.audit.entry);
      });
    } catch (err) {
      const e = err as { message?: string; code?: string };
      this.deps.log.warn({ err: { message: e.message, code: e.code }, kind: batch.kind, attempts: batch.attempts }, 'denied attempts not recorded');
    }
  }

  private drop(): Promise<void> {
    this.dropped += 1;
    const now = Date.now();
    if (now - this.lastDropWarning >= 60_000) {
      this.lastDropWarning = now;
      this.deps.log.warn({ dropped: this.dropped }, 'too many sources of denied attempts at once: attempts dropped from the record');
      this.dropped = 0;
    }
    return Promise.resolve();
  }
}
