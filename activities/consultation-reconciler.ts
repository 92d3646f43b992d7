import type { Client } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import { recordAudit } from '../db/audit';
import type { Db } from '../db/connection';
import { releaseAbandoned } from '../db/consultations';
import { withTenant } from '../db/tenant-scope';
import { endedWorkflows } from '../temporal/ended-workflows';

export function createConsultationReconcilerActivities(deps: { db: Db; temporal: Client }) {
  return {
    /**
     * Finds consultation workflows that ended without ending the visit — terminated (e.g. by
     * Temporal for an oversized history, or by an operator), failed or timed out — and releases
     * their slots: the consultation becomes cancelled, with a timeline entry and a log entry.
     * Idempotent: a consultation that already ended is left alone.
     */
    async releaseSlotsOfEndedWorkflows(): Promise<{ examined: number; released: number }> {
      let examined = 0;
      let released = 0;
      for await (const w of endedWorkflows(deps.temporal, 'consultationWorkflow', 'consultation')) {
        examined += 1;
        const done = await withTenant(deps.db, w.tenantId, async (trx) => {
          const changed = await releaseAbandoned(trx, w.id, { workflowStatus: w.status, runId: w.runId });
          if (changed) {
            await recordAudit(trx, { actorType: 'system', actorId: 'consultation-reconciler' }, {
              action: 'consultation.release_slot',
              outcome: 'success',
              targetType: 'consultation',
              targetId: w.id,
              details: { workflowStatus: w.status },
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
