import { createHash, createHmac } from 'node:crypto';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { recordAudit } from '../db/audit';
import type { Db } from '../db/connection';
import { notBegunFrom, openVisits, releaseAbandoned, storePayload } from '../db/consultations';
import { consultationFieldContext } from './consultations';
import type { Vault } from '../lib/crypto/vault';
import {
  beginPurge,
  contractEmails,
  findPurgeRecord,
  finishPurge,
  insertPurgeRecordIfAbsent,
  loadContract,
  markCertificateMailed,
  markReadOnly,
  recordIssued,
} from '../db/contracts';
import { recordOperatorAction } from '../db/backups';
import { runningExportWorkflows } from '../db/data-exports';
import { clinicMasterKeyIds, clinicTables, countClinicRows, deleteClinicBatch } from '../db/purge';
import { forgetClinicRateLimits } from '../db/rate-limit';
import { purgeLoginProblems } from '../db/purge-role';
import { withTenant } from '../db/tenant-scope';
import { findTenant } from '../db/tenants';
import { purgeAt, type ContractState } from '../domain/contract';
import type { Mailer } from '../lib/mailer';
import type { ObjectStore } from '../lib/storage/object-store';
import type { WorkflowOutbox } from '../temporal/workflow-outbox';
import { canonicalJson } from '../domain/canonical-json';
import { isUuid } from '../domain/ids';
import { TENANT_ID } from '../temporal/search-attributes';
import { cancelUpdate } from '../workflows/consultation-messages';
import { checkpoint } from './checkpoint';
import { isMailRejected, sendEmailOnce } from './email';
import { contractBookingsCancelledMail, contractNoticeMail, deletionCertificateMail, type ContractNoticeKind } from './mail-templates/contract-end';

/** What contract end needs from the worker's configuration (workers/contract-end-services.ts). */
export interface ContractEndServices {
  leadTimesSec: number[];
  graceSec: number;
  /** The least time between lifting a legal hold and the purge (0: at once, if the grace is over). */
  holdReleaseNoticeSec?: number;
  /** The purge's own pool (PURGE_DATABASE_URL); undefined when not configured: purges then fail visibly and retry. */
  purgeDb: () => Db | undefined;
  batchRows: number;
  storage: ObjectStore;
  /** HMAC-SHA-256 key of deletion certificates. */
  certificateKey: string;
  keyProvider: 'local' | 'kms';
}

export const PURGE_NOT_CONFIGURED = 'PurgeNotConfigured';

/** What the contract-end workflow plans from: the stored contract and this worker's timings. Ids and times only. */
export interface ContractPlan {
  endsAtMs: number | null;
  state: ContractState;
  legalHold: boolean;
  holdLiftedAtMs: number | null;
  leadTimesSec: number[];
  graceSec: number;
  holdReleaseNoticeSec: number;
  /** The stored plan's number (tenants.contract_plan); absent from results recorded before it existed. */
  plan?: number;
  /** When that plan was made (tenants.contract_plan_at); absent before it existed, null for ends set before it. */
  planAtMs?: number | null;
}

/** The object-key prefix every stored file of a clinic lives under (application/processes/upload-file.ts). */
export const clinicObjectPrefix = (tenantId: string) => `tenants/${tenantId}/`;

const SYSTEM = { actorType: 'system' as const, actorId: 'contract-end' };
/** Why the purge terminated a workflow (shown in the Temporal UI). */
const PURGE_REASON = 'contract_end_purge: the clinic\'s contract ended and its data is being deleted';
const addressKey = (to: string) => createHash('sha256').update(to).digest('hex').slice(0, 32);

export function createContractEndActivities(deps: {
  db: Db;
  mailer: Mailer;
  temporal: Client;
  vault?: Pick<Vault, 'encryptText'>;
  contractEnd?: ContractEndServices;
  /** To send a booking's start still waiting in the outbox before cancelling it. */
  outbox?: Pick<WorkflowOutbox, 'dispatchWorkflow'>;
}) {
  const services = () => {
    if (!deps.contractEnd) throw ApplicationFailure.nonRetryable('contract end is not configured in this worker', 'ContractEndNotConfigured');
    return deps.contractEnd;
  };
  let checkedPurgeDb: Db | undefined;
  /** The purge's pool, checked once per process: never a superuser or a role that bypasses row-level security. */
  const purgeDb = async (): Promise<Db> => {
    if (checkedPurgeDb) return checkedPurgeDb;
    const db = services().purgeDb();
    // Retryable on purpose: the purge waits (visibly failing in the Temporal UI) until an operator configures it.
    if (!db) throw ApplicationFailure.retryable('PURGE_DATABASE_URL is not set: the purge cannot run (README: Contract end)', PURGE_NOT_CONFIGURED);
    const problems = await purgeLoginProblems({ query: async (sql) => (await db.raw(sql)) as { rows: Array<Record<string, unknown>> } });
    if (problems.length) throw ApplicationFailure.nonRetryable(`PURGE_DATABASE_URL's role ${problems.join('; ')}`, 'PurgeLoginUnfit');
    return (checkedPurgeDb = db);
  };

  /** Every row of the clinic, table by table (children first), in batches each committed on its own. */
  const deleteAllRows = async (tenantId: string, progress?: (table: string, rows: number) => void): Promise<number> => {
    const db = await purgeDb();
    let total = 0;
    for (const { name } of await clinicTables(db)) {
      for (;;) {
        const n = await deleteClinicBatch(db, tenantId, name, services().batchRows);
        total += n;
        progress?.(name, total);
        if (n < services().batchRows) break;
      }
    }
    return total;
  };

  return {
    /** The contract as stored, with the timings from this worker's configuration. Ids and times only. */
    async loadContractPlan(args: { tenantId: string }): Promise<ContractPlan | null> {
      const c = await loadContract(deps.db, args.tenantId);
      if (!c) return null;
      const { leadTimesSec, graceSec, holdReleaseNoticeSec = 0 } = services();
      return { endsAtMs: c.endsAtMs, state: c.state, legalHold: c.legalHold, holdLiftedAtMs: c.holdLiftedAtMs, leadTimesSec, graceSec, holdReleaseNoticeSec, plan: c.plan, planAtMs: c.planAtMs };
    },

    /**
     * One contract notice to every contract address, once per address (sendEmailOnce, keyed by
     * the workflow's plan generation and the step), read at send time. Returns how many addresses
     * it went to. (Activities scheduled before generations existed carry none: keyed by the end
     * date, as they were.)
     */
    async mailContractNotice(args: {
      tenantId: string;
      kind: ContractNoticeKind;
      step: string;
      endsAtMs: number;
      previousEndsAtMs?: number;
      graceSec: number;
      generation?: string;
      /** The deletion date when it is not the end plus the grace (after a lifted hold). */
      purgeAtMs?: number;
      /** Answer -1 (not 0) for an announcement or reminder skipped because its end no longer stands (runs that know to re-plan). */
      reportNotStanding?: boolean;
      /** For `hold_lifted`: the lifting told. Not sent (-1) if a hold stands again, or was lifted again since. */
      liftedAtMs?: number;
    }): Promise<number> {
      const tenant = await findTenant(deps.db, args.tenantId);
      if (!tenant || tenant.contractState === 'purging' || tenant.contractState === 'purged') return 0;
      if (args.kind === 'hold_lifted' && args.liftedAtMs !== undefined) {
        const c = await loadContract(deps.db, args.tenantId);
        // A date that no longer holds is worse than no mail: the run hears of the new hold or lifting.
        if (!c || c.legalHold || c.holdLiftedAtMs !== args.liftedAtMs) return -1;
      }
      // An announcement or reminder of an end that no longer stands (changed since the run last
      // read it; its signal is on the way) is not sent: the run re-plans and says what changed.
      if ((args.kind === 'announce' || args.kind === 'reminder') && (tenant.contractEndsAt === null ? null : Date.parse(tenant.contractEndsAt)) !== args.endsAtMs) return args.reportNotStanding ? -1 : 0;
      const text = contractNoticeMail(args.kind, tenant, {
        endsAt: new Date(args.endsAtMs),
        purgeAt: new Date(args.purgeAtMs ?? purgeAt(args.endsAtMs, args.graceSec)),
        previousEndsAt: args.previousEndsAtMs === undefined ? undefined : new Date(args.previousEndsAtMs),
        held: tenant.legalHold !== null,
      });
      let sent = 0;
      for (const to of tenant.contractEmails) {
        try {
          await sendEmailOnce(deps, {
            tenantId: tenant.id,
            idempotencyKey: `contract-end/${tenant.id}/${args.generation ?? args.endsAtMs}/${args.step}/${addressKey(to)}`,
            purpose: `contract_end.${args.kind}`,
            mail: { to, ...text },
          });
          sent += 1;
        } catch (err) {
          // A refused address is recorded as failed; the others still hear it.
          if (!isMailRejected(err)) throw err;
        }
      }
      return sent;
    },

    /** The end has come: read-only from now (if the end still stands). */
    async startReadOnly(args: { tenantId: string; endsAtMs: number }): Promise<'read_only' | 'changed'> {
      return markReadOnly(deps.db, args.tenantId, args.endsAtMs);
    },

    /**
     * Before a purge: cancels the clinic's export still being built (if any) and waits until its
     * workflow has closed, so that no archive or key appears after the purge deleted them.
     */
    async closeClinicExports(args: { tenantId: string }): Promise<{ cancelled: number }> {
      const workflowIds = await withTenant(deps.db, args.tenantId, (trx) => runningExportWorkflows(trx));
      const { beat } = checkpoint<number>();
      let cancelled = 0;
      for (const workflowId of workflowIds) {
        const handle = deps.temporal.workflow.getHandle(workflowId);
        try {
          await handle.cancel();
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) continue;
          throw err;
        }
        // Until it has closed (cancelled, or finished just before): it may be uploading its archive.
        const alive = setInterval(() => beat(cancelled), 5_000);
        try {
          await handle.result().catch(() => undefined);
        } finally {
          clearInterval(alive);
        }
        cancelled += 1;
      }
      return { cancelled };
    },

    /**
     * Ends the workflows of the clinic's visits still open when the purge begins: checked in,
     * seen, finished but unpaid (the end cancelled only visits not begun). They have no timer
     * left, so they would wait for ever for actions that can no longer come, listed as running in
     * the operators' Temporal UI long after their rows are gone. Terminated, not cancelled: their
     * steps write to rows the purge deletes next, and nothing of the visit is left to wind down.
     * Each visit then ends as the reconciler ends a visit whose workflow was terminated (cancelled,
     * a `workflow_ended` step, `consultation.release_slot` in the log, whichever of the two comes
     * first), here before the purge's inventory, so the certificate counts those rows too. A
     * workflow already closed is skipped; a retry goes over the visits left open.
     *
     * Then every other workflow Temporal still lists as running for the clinic (its TenantId),
     * but the purge's own run: an onboarding waiting for a password change that will never come
     * (no timer), a finished export waiting out its retention (up to 90 days), a lockout's timer.
     * Their rows go next, so nothing of them is left to do.
     */
    async closeClinicWorkflows(args: { tenantId: string; except: string }): Promise<{ terminated: number }> {
      // The id goes into a visibility query below: a clinic id, nothing else.
      if (!isUuid(args.tenantId)) throw ApplicationFailure.nonRetryable('not a clinic id', 'InvalidArguments');
      const visits = await withTenant(deps.db, args.tenantId, (trx) => openVisits(trx));
      const { beat } = checkpoint<number>();
      let terminated = 0;
      for (const visit of visits) {
        const handle = deps.temporal.workflow.getHandle(visit.workflowId);
        let runId = 'none';
        try {
          const described = await handle.describe();
          runId = described.runId;
          if (described.status.name === 'RUNNING') {
            await handle.terminate(PURGE_REASON);
            terminated += 1;
          }
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
        await withTenant(deps.db, args.tenantId, async (trx) => {
          if (!(await releaseAbandoned(trx, visit.id, { workflowStatus: 'Terminated', runId }))) return;
          await recordAudit(trx, SYSTEM, {
            action: 'consultation.release_slot', outcome: 'success', targetType: 'consultation', targetId: visit.id,
            details: { workflowStatus: 'Terminated', reason: 'contract_end_purge' },
          });
        });
        beat(terminated);
      }
      const running = deps.temporal.workflow.list({ query: `${TENANT_ID.name} = '${args.tenantId}' AND ExecutionStatus = 'Running'` });
      for await (const w of running) {
        if (w.workflowId === args.except) continue;
        try {
          await deps.temporal.workflow.getHandle(w.workflowId, w.runId).terminate(PURGE_REASON);
          terminated += 1;
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
        beat(terminated);
      }
      return { terminated };
    },

    /**
     * Cancels bookings that start at or after the end through each consultation's own workflow
     * (the same update as a clinic's cancel, so its timers stop), logs each in the clinic's
     * operation log, and mails the count to the contract addresses. Refusals (a booking that
     * moved on meanwhile) and workflows already gone are skipped. A booking committed just before
     * the end whose start is still in the outbox (its first send failed) has no workflow yet: its
     * start is sent now and the cancel retried; if it cannot be sent, the activity fails and is
     * retried (skipping it left a reserved visit in a read-only clinic, its reminders still to go).
     */
    async cancelBookingsAfterEnd(args: { tenantId: string; endsAtMs: number; generation?: string }): Promise<{ cancelled: number }> {
      const rows = await withTenant(deps.db, args.tenantId, (trx) => notBegunFrom(trx, new Date(args.endsAtMs)));
      const { resumed, beat } = checkpoint<number>();
      let cancelled = resumed ?? 0;
      for (const row of rows) {
        beat(cancelled);
        // The reason is stored with the visit (sealed, as a clinic's own cancel reason is), so the
        // clinic's records and its export say why the visit did not happen.
        const reasonRef = deps.vault ? await contractEndCancelReason(deps.db, deps.vault, args.tenantId, row.id) : undefined;
        const cancel = async (): Promise<'done' | 'gone' | 'refused'> => {
          try {
            await deps.temporal.workflow.getHandle(row.workflowId).executeUpdate(cancelUpdate, { args: [reasonRef ? { reasonRef } : {}] });
            return 'done';
          } catch (err) {
            if (err instanceof WorkflowNotFoundError) return 'gone';
            if (err instanceof ApplicationFailure || (err as Error).name === 'WorkflowUpdateFailedError') return 'refused';
            throw err;
          }
        };
        let outcome = await cancel();
        if (outcome === 'gone' && deps.outbox) {
          const pending = await deps.outbox.dispatchWorkflow(row.workflowId);
          if (pending.failed > 0) throw ApplicationFailure.retryable(`the workflow of booking ${row.id} is still starting`, 'BookingWorkflowStarting');
          if (pending.dispatched > 0) outcome = await cancel();
        }
        if (outcome !== 'done') continue;
        await withTenant(deps.db, args.tenantId, (trx) =>
          recordAudit(trx, SYSTEM, { action: 'consultation.cancel', outcome: 'success', targetType: 'consultation', targetId: row.id, details: { reason: 'contract_end' } }),
        );
        cancelled += 1;
      }
      if (cancelled > 0) {
        const tenant = await findTenant(deps.db, args.tenantId);
        for (const to of tenant?.contractEmails ?? []) {
          await sendEmailOnce(deps, {
            tenantId: args.tenantId,
            idempotencyKey: `contract-end/${args.tenantId}/${args.generation ?? args.endsAtMs}/bookings-cancelled/${addressKey(to)}`,
            purpose: 'contract_end.bookings_cancelled',
            mail: { to, ...contractBookingsCancelledMail(tenant!, cancelled) },
          }).catch((err) => {
            if (!isMailRejected(err)) throw err;
          });
        }
      }
      return { cancelled };
    },

    /** The grace period is over: purging begins unless held or changed (re-checked under the clinic's row lock). */
    async beginClinicPurge(args: { tenantId: string; endsAtMs: number; graceSec: number; holdReleaseNoticeSec?: number }): Promise<'purging' | 'held' | 'changed'> {
      const outcome = await beginPurge(deps.db, args.tenantId, args.endsAtMs, args.graceSec, args.holdReleaseNoticeSec);
      if (outcome === 'purging') {
        await recordOperatorAction(deps.db, SYSTEM, { action: 'contract.purge_started', targetType: 'tenant', targetId: args.tenantId });
      }
      return outcome;
    },

    /**
     * What exists before anything is deleted, for the certificate: the clinic's rows per table
     * (one snapshot), its stored objects and bytes, its master key ids. The first inventory
     * stands: a retried or resumed purge keeps it, so the certificate says what existed.
     */
    async takePurgeInventory(args: { tenantId: string; workflowId: string; runId: string }): Promise<{ tables: number; rows: number; objects: number; keys: number }> {
      const existing = await findPurgeRecord(deps.db, args.tenantId);
      if (!existing) {
        const db = await purgeDb();
        const tables = await clinicTables(db);
        const unpurgeable = tables.filter((t) => !t.purgeable).map((t) => t.name);
        if (unpurgeable.length) {
          throw ApplicationFailure.nonRetryable(`the purge role may not delete from ${unpurgeable.join(', ')} (give the table isolateByTenant or purgeableByContractEnd)`, 'PurgeTableNotPurgeable');
        }
        const counted = await countClinicRows(db, args.tenantId, tables.map((t) => t.name));
        const keyIds = await clinicMasterKeyIds(db, args.tenantId);
        let count = 0;
        let bytes = 0;
        for await (const o of services().storage.listUnder(clinicObjectPrefix(args.tenantId))) {
          count += 1;
          bytes += o.bytes;
        }
        const tenant = await findTenant(deps.db, args.tenantId);
        await insertPurgeRecordIfAbsent(deps.db, {
          clinicId: args.tenantId,
          clinicSlug: tenant?.slug ?? '',
          workflowId: args.workflowId,
          runId: args.runId,
          counted,
          keyIds,
          objects: { count, bytes },
        });
      }
      const record = (await findPurgeRecord(deps.db, args.tenantId))!;
      const rows = Object.values(record.counted).reduce((a, b) => a + b, 0);
      return { tables: Object.keys(record.counted).length, rows, objects: record.objects.count, keys: record.keyIds.length };
    },

    /**
     * Deletes every row of the clinic, table by table (children first), in batches of
     * PURGE_BATCH_ROWS, each its own transaction; heartbeats after each batch. Tables are read
     * from the catalog again, so one added since the inventory is purged too. Resumable: rows a
     * killed attempt deleted are simply gone for the retry (the certificate's counts come from
     * the inventory before and a count after, never from this loop, so a killed batch cannot
     * make them wrong).
     */
    async purgeClinicRows(args: { tenantId: string }): Promise<{ rows: number }> {
      const { beat } = checkpoint<{ table: string; rows: number }>();
      const rows = await deleteAllRows(args.tenantId, (table, rows) => beat({ table, rows }));
      // Not the clinic's table (counters of attempts across clinics), but keyed by its id.
      await forgetClinicRateLimits(deps.db, args.tenantId);
      return { rows };
    },

    /** Deletes every stored object under the clinic's prefix (files; exports land there too). */
    async purgeClinicObjects(args: { tenantId: string }): Promise<{ objects: number; bytes: number }> {
      const storage = services().storage;
      const { beat } = checkpoint<number>();
      let objects = 0;
      let bytes = 0;
      for await (const o of storage.listUnder(clinicObjectPrefix(args.tenantId))) {
        await storage.delete(o.key);
        objects += 1;
        bytes += o.bytes;
        beat(objects);
      }
      await storage.pruneEmptyFolders?.(clinicObjectPrefix(args.tenantId));
      return { objects, bytes };
    },

    /**
     * The deletion certificate: canonical JSON (keys sorted, no spaces) of what was deleted, when
     * and by which run; its SHA-256 and an HMAC-SHA-256 under DELETION_CERTIFICATE_KEY. Issued
     * once: a retry returns the stored one.
     */
    async issueDeletionCertificate(args: { tenantId: string }): Promise<{ sha256: string }> {
      const record = await findPurgeRecord(deps.db, args.tenantId);
      if (!record) throw ApplicationFailure.nonRetryable('no purge inventory for this clinic', 'PurgeRecordMissing');
      if (record.state === 'issued') return { sha256: record.sha256! };
      const { certificateKey, keyProvider } = services();
      // Proof, not bookkeeping: every table with a tenant_id (the catalog's list now) holds no row of the clinic.
      const db = await purgeDb();
      const count = async () => countClinicRows(db, args.tenantId, (await clinicTables(db)).map((t) => t.name));
      let remaining = await count();
      // A straggler written after the rows went (e.g. a consultation workflow's last event): delete it too.
      if (Object.values(remaining).some((n) => n > 0)) {
        await deleteAllRows(args.tenantId);
        remaining = await count();
      }
      const left = Object.entries(remaining).filter(([, n]) => n > 0);
      if (left.length) throw ApplicationFailure.retryable(`rows of the clinic remain in ${left.map(([t]) => t).join(', ')}`, 'PurgeIncomplete');
      const issuedAt = new Date();
      const endsAtMs = (await loadContract(deps.db, args.tenantId))?.endsAtMs ?? null;
      const tables = [...new Set([...Object.keys(record.counted), ...Object.keys(remaining)])]
        .sort()
        .map((table) => ({ table, existed: record.counted[table] ?? 0, remaining: remaining[table] ?? 0 }));
      const certificate = {
        type: 'forclinic.deletion-certificate',
        version: 1,
        clinic: { id: record.clinicId, slug: record.clinicSlug },
        contractEndedAt: endsAtMs === null ? null : new Date(endsAtMs).toISOString(),
        purgeStartedAt: new Date(record.startedAt).toISOString(),
        purgedAt: issuedAt.toISOString(),
        workflow: { id: record.workflowId, runId: record.runId },
        // existed: counted in one snapshot when the purge began; remaining: counted after it, in every table the catalog lists.
        database: { tables, rows: tables.reduce((a, t) => a + t.existed, 0) },
        objects: { prefix: clinicObjectPrefix(record.clinicId), count: record.objects.count, bytes: record.objects.bytes },
        keys: {
          provider: keyProvider,
          ids: record.keyIds,
          destruction: keyProvider === 'kms' ? 'KMS ScheduleKeyDeletion, PendingWindowInDays 7 (disabled at once)' : 'key files overwritten and deleted',
        },
        operationLog: 'the clinic\'s own operation log was deleted with its data; the platform log keeps ids only',
        signature: { algorithm: 'HMAC-SHA-256', keyFingerprint: createHash('sha256').update(certificateKey).digest('hex').slice(0, 16) },
      };
      const canonical = canonicalJson(certificate);
      const sha256 = createHash('sha256').update(canonical, 'utf8').digest('hex');
      const signature = createHmac('sha256', certificateKey).update(canonical, 'utf8').digest('hex');
      await recordIssued(deps.db, args.tenantId, { certificate, sha256, signature, issuedAt });
      return { sha256: (await findPurgeRecord(deps.db, args.tenantId))!.sha256! };
    },

    /**
     * Mails the certificate to the contract addresses (still in the clinic's registry row: they
     * are erased only after this). Marked once sent; at least once: a worker dying between the
     * sends and the mark sends again. Sent straight through the mailer, not sendEmailOnce,
     * because a delivery row would be a new row of the purged clinic.
     */
    async mailDeletionCertificate(args: { tenantId: string }): Promise<{ mailed: number }> {
      const record = await findPurgeRecord(deps.db, args.tenantId);
      if (!record?.certificate || record.mailedAt) return { mailed: 0 };
      const text = deletionCertificateMail(
        { slug: record.clinicSlug },
        { canonical: canonicalJson(record.certificate), sha256: record.sha256!, signature: record.signature!, purgedAt: new Date(record.issuedAt!) },
      );
      const to = await contractEmails(deps.db, args.tenantId);
      for (const address of to) await deps.mailer.send({ to: address, ...text }, { signal: AbortSignal.timeout(10_000) });
      await markCertificateMailed(deps.db, args.tenantId);
      return { mailed: to.length };
    },

    /** The registry row becomes a tombstone (id, slug, state); the platform log records the purge (ids only). */
    async finishClinicPurge(args: { tenantId: string }): Promise<void> {
      await finishPurge(deps.db, args.tenantId);
      const record = await findPurgeRecord(deps.db, args.tenantId);
      await recordOperatorAction(deps.db, SYSTEM, { action: 'contract.purged', targetType: 'tenant', targetId: args.tenantId, details: { certificateSha256: record?.sha256 ?? null } });
    },
  };
}

const CONTRACT_END_CANCEL_REASON = '契約終了に伴うキャンセル / Cancelled: the clinic\'s contract with FOR CLINIC ended';

/** Seals the contract end's cancel reason for one visit and stores it for the visit's workflow to pick up. */
async function contractEndCancelReason(db: Db, vault: Pick<Vault, 'encryptText'>, tenantId: string, consultationId: string): Promise<string> {
  const sealed = await vault.encryptText(tenantId, consultationFieldContext(consultationId, 'cancelReason'), CONTRACT_END_CANCEL_REASON);
  return withTenant(db, tenantId, (trx) => storePayload(trx, consultationId, 'cancelReason', sealed));
}
