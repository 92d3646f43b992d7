import type { Client } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import { recordAudit } from '../db/audit';
import type { Db } from '../db/connection';
import { releaseAbandoned } from '../db/consultations';
import { withTenant } from '../db/tenant-scope';
import { isUuid } from '../domain/ids';
import { TENANT_ID } from '../temporal/search-attributes';

/** How far back each pass looks, and how many ended workflows it handles at most. */
const LOOK_BACK_MS = 24 * 3_600_000;
const MAX_PER_PASS = 1_000;

export function createConsultationReconcilerActivities(deps: { db: Db; temporal: Client }) {
  return {
    /**
     * Finds consultation workflows that ended without ending the visit — terminated (e.g. by
     * Temporal for an oversized history, or by an operator), failed or timed out — and releases
     * their slots: the consultation becomes cancelled, with a timeline entry and a log entry.
     * Idempotent: a consultation that already ended is left alone.
     */
    async releaseSlotsOfEndedWorkflows(): Promise<{ examined: number; released: number }> {
      const since = new Date(Date.now() - LOOK_BACK_MS).toISOString();
      const query = `WorkflowType = 'consultationWorkflow' AND (ExecutionStatus = 'Terminated' OR ExecutionStatus = 'Failed' OR ExecutionStatus = 'TimedOut') AND CloseTime > '${since}'`;
      let examined = 0;
      let released = 0;
      for await (const w of deps.temporal.workflow.list({ query, pageSize: 100 })) {
        if (examined >= MAX_PER_PASS) break;
        examined += 1;
        const consultationId = w.workflowId.replace(/^consultation\//, '');
        const tenantId = w.typedSearchAttributes.get(TENANT_ID);
        if (!tenantId || !isUuid(tenantId) || !isUuid(consultationId)) continue;
        const done = await withTenant(deps.db, tenantId, async (trx) => {
          const changed = await releaseAbandoned(trx, consultationId, { workflowStatus: w.status.name, runId: w.runId });
          if (changed) {
            await recordAudit(trx, { actorType: 'system', actorId: 'consultation-reconciler' }, {
              action: 'consultation.release_slot',
              outcome: 'success',
              targetType: 'consultation',
              targetId: consultationId,
              details: { workflowStatus: w.status.name },
            });
          }
          return changed;
        });
        if (done) released += 1;
        Context.current().heartbeat({ examined, released });
      }
      return { examined, released };
    },
  };
}
