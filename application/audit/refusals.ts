import { recordAuditNow, type AuditContext, type AuditEntry } from '../../db/audit';
import type { Db } from '../../db/connection';
import { Problem } from '../../domain/problems';
import type { Logger } from '../../lib/logger';

/** Answers that mean "the rules said no" (not "no such thing": a 404 is a denied attempt in security_events). */
const REFUSALS = new Set([400, 403, 409, 422]);

/**
 * Runs a change and logs its refusal: when the use case answers with a rule's problem
 * (409 last_admin, 409 slot_taken, 400 slot_in_past, …) the operation log gets the attempt with
 * outcome `denied` and the problem's code. The use case's own transaction rolled back, so the
 * entry is written in one of its own. If that write fails, the caller still gets the refusal
 * (a refused change changed nothing), and the failure is logged.
 */
export async function withRefusalsLogged<T>(
  deps: { db: Db; log?: Pick<Logger, 'error'> },
  tenantId: string,
  audit: AuditContext,
  attempt: Omit<AuditEntry, 'outcome'>,
  change: () => Promise<T>,
): Promise<T> {
  try {
    return await change();
  } catch (err) {
    if (err instanceof Problem && REFUSALS.has(err.status)) {
      await recordAuditNow(deps.db, tenantId, audit, { ...attempt, outcome: 'denied', details: { ...attempt.details, code: err.code } }).catch((failure: Error) =>
        deps.log?.error({ err: { message: failure.message }, action: attempt.action }, 'operation log: a refused change was not recorded'),
      );
    }
    throw err;
  }
}
