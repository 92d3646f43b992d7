import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { restoreInto } from '../db/backup-restore';
import {
  failAbandonedGenerations,
  failureMailed,
  finishRestoreTest,
  generationsToPrune,
  generationsToVerify,
  getGeneration,
  getRestoreTest,
  insertRestoreTest,
  insertRunningGeneration,
  latestVerifiedGeneration,
  markFailed,
  markFailureMailed,
  markPruned,
  markWritten,
  recordVerification,
  finishedRestoreTests,
  runningBackupWork,
  type MailMark,
  type Trigger,
} from '../db/backups';
import type { Client } from '@temporalio/client';
import type { Db } from '../db/connection';
import { dropDatabase, ensureDatabase, listDatabases, withDatabase } from '../db/database';
import { generationPrefix, type Manifest } from '../lib/backup/manifest';
import { throttled } from '../lib/backup/streams';
import { openGeneration, verifyGeneration } from '../lib/backup/verify';
import { generationLock, type ObjectLockPolicy } from '../lib/backup/object-lock';
import { BackupMisconfigured } from '../lib/backup/write';
import type { KeyProvider } from '../lib/crypto/key-provider';
import type { Mailer } from '../lib/mailer';
import type { BackupStore } from '../lib/storage/backup-store';
import type { ObjectLock } from '../lib/storage/object-store';
import { endedStatus } from '../temporal/ended-workflows';
import { backupFailureMail, type BackupFailureKind } from './mail-templates/backup-failure';

export interface BackupServices {
  store: BackupStore;
  /** The platform's key provider (the same as the clinics': local or KMS). */
  provider: KeyProvider;
  /** BACKUP_DATABASE_URL; without it every backup fails (and says why). */
  backupUrl?: string;
  /** RESTORE_TEST_DATABASE_URL: a role that may create databases on the verification server. */
  restoreTestUrl?: string;
  /** Verified generations kept (BACKUP_GENERATIONS, at least 7). */
  keep: number;
  keyVersion: number;
  /** BACKUP_S3_OBJECT_LOCK and its mode (lib/backup/object-lock.ts). */
  objectLock: { policy: ObjectLockPolicy; mode: ObjectLock['mode'] };
  operatorEmails: string[];
  /**
   * Writes a generation (lib/backup/write.ts) and returns its manifest; the worker's runs it in a
   * process of its own at BACKUP_NICE (lib/backup/write-process.ts).
   */
  write: (generationId: string, lock: ObjectLock | undefined, onProgress: (bytes: number) => void, signal: AbortSignal) => Promise<Manifest>;
}

/** Failure types no retry cures; the workflows list them as non-retryable. */
export const BACKUP_PERMANENT_ERRORS = ['BackupMisconfigured', 'RestoreRefused'];

/** Heartbeats carry the bytes done so far, so the Temporal UI shows progress. */
const progress = () => {
  let bytes = 0;
  const beat = throttled(2_000, () => Context.current().heartbeat({ bytes }));
  return (n: number) => {
    bytes += n;
    beat();
  };
};

const workflowId = () => Context.current().info.workflowExecution?.workflowId ?? 'unknown';

/** The scratch database of one restore test on the verification server. */
const SCRATCH_PREFIX = 'forclinic_restore_';
const restoreScratchName = (restoreTestId: string) => `${SCRATCH_PREFIX}${restoreTestId.replace(/-/g, '').slice(0, 16)}`;
/** The scratch databases on the verification server (their names: the prefix and 16 hex digits). */
const scratchDatabases = async (url: string) => (await listDatabases(url, SCRATCH_PREFIX)).filter((n) => /^forclinic_restore_[0-9a-f]{16}$/.test(n));

type FailureMail = { mark: MailMark; kind: BackupFailureKind; generationId: string; reason: string };

export function createBackupActivities(deps: { db: Db; mailer: Mailer; backups: BackupServices; temporal?: Client }) {
  const b = deps.backups;

  /** The operators' failure mail, once per failure record (see mailOperators). */
  async function mailOperatorsOnce(input: FailureMail): Promise<{ mailed: number }> {
    if (await failureMailed(deps.db, input.mark)) return { mailed: 0 };
    if (!b.operatorEmails.length) {
      Context.current().log.error('no OPERATOR_EMAILS configured: a backup failure could not be mailed', { generationId: input.generationId, reason: input.reason });
      return { mailed: 0 };
    }
    const text = backupFailureMail({ kind: input.kind, generationId: input.generationId, at: new Date(), reason: input.reason });
    for (const to of b.operatorEmails) await deps.mailer.send({ to, ...text }, { signal: AbortSignal.timeout(10_000) });
    await markFailureMailed(deps.db, input.mark);
    return { mailed: b.operatorEmails.length };
  }

  return {
    async beginBackup(input: { generationId: string; trigger: Trigger }): Promise<'inserted' | 'exists' | 'busy'> {
      const row = { id: input.generationId, workflowId: workflowId(), trigger: input.trigger, store: b.store.location };
      const outcome = await insertRunningGeneration(deps.db, row);
      if (outcome !== 'busy' || !(await failAbandonedGenerations(deps.db)).length) return outcome;
      return insertRunningGeneration(deps.db, row);
    },

    /** The whole snapshot in one attempt (one transaction); a retry starts it over. */
    async writeBackup(generationId: string): Promise<{ sizeBytes: number; tables: number }> {
      if (!b.backupUrl) throw new BackupMisconfigured('BACKUP_DATABASE_URL is not set: the worker has no role that may read every clinic\'s rows');
      Context.current().heartbeat({ bytes: 0 });
      const lock = await generationLock(b.store, { ...b.objectLock, keep: b.keep, now: new Date() });
      const manifest = await b.write(generationId, lock, progress(), Context.current().cancellationSignal);
      await markWritten(deps.db, generationId, manifest);
      return { sizeBytes: manifest.tables.reduce((n, t) => n + t.object.bytes, 0), tables: manifest.tables.length };
    },

    /** Checks one generation in the store and records the result (the first good one marks it verified). */
    async verifyBackup(generationId: string): Promise<{ ok: boolean; verificationId: string; problems: string[] }> {
      const row = await getGeneration(deps.db, generationId);
      if (!row) throw ApplicationFailure.nonRetryable(`generation ${generationId} does not exist`, 'BackupMisconfigured');
      const result = await verifyGeneration(b.store, b.provider, generationId, row.manifest, progress());
      const id = randomUUID();
      await recordVerification(deps.db, { id, generationId, workflowId: workflowId(), ok: result.ok, problems: result.problems });
      // The stored row's id (a retry of this activity updated the first attempt's row).
      const stored = await deps.db('backup_verifications').where({ workflowId: workflowId(), generationId }).first('id');
      return { ok: result.ok, verificationId: stored?.id ?? id, problems: result.problems.map((p) => `${p.object}: ${p.problem}`) };
    },

    async listBackupsToVerify(): Promise<string[]> {
      return generationsToVerify(deps.db);
    },

    /** Retention, run only after a new generation was written and verified. */
    async pruneBackups(): Promise<string[]> {
      const pruned: string[] = [];
      for (const g of await generationsToPrune(deps.db, b.keep)) {
        await b.store.deletePrefix(generationPrefix(g.id));
        await markPruned(deps.db, g.id);
        pruned.push(g.id);
        Context.current().heartbeat(pruned.length);
      }
      return pruned;
    },

    async failBackup(input: { generationId: string; reason: string }): Promise<void> {
      await markFailed(deps.db, input.generationId, input.reason);
    },

    /**
     * Mails the operators once per failure record (`failure_mailed_at`). At least once, not
     * exactly once: a worker that dies between the provider's acceptance and the mark sends it
     * again on retry — for an alarm, a duplicate is harmless and a lost one is not.
     */
    async mailOperators(input: FailureMail): Promise<{ mailed: number }> {
      return mailOperatorsOnce(input);
    },

    /** Records a restore test of `generationId` (default: the latest verified one); null when there is none. */
    async beginRestoreTest(input: { restoreTestId: string; generationId?: string; trigger: Trigger }): Promise<{ generationId: string } | null> {
      const existing = await getRestoreTest(deps.db, input.restoreTestId);
      if (existing) return { generationId: existing.generationId };
      const generationId = input.generationId ?? (await latestVerifiedGeneration(deps.db));
      if (!generationId) return null;
      await insertRestoreTest(deps.db, { id: input.restoreTestId, generationId, workflowId: workflowId(), trigger: input.trigger });
      return { generationId };
    },

    /**
     * Restores the generation into a scratch database on the verification server, compares every
     * table's count and checksum with the manifest, and drops the database again.
     */
    async runRestoreTest(restoreTestId: string): Promise<{ passed: boolean; durationMs: number; tables: number; reason?: string }> {
      if (!b.restoreTestUrl) throw new BackupMisconfigured('RESTORE_TEST_DATABASE_URL is not set: there is no verification server to restore into');
      const test = await getRestoreTest(deps.db, restoreTestId);
      if (!test) throw ApplicationFailure.nonRetryable(`restore test ${restoreTestId} does not exist`, 'BackupMisconfigured');
      const scratch = restoreScratchName(restoreTestId);
      const onBytes = progress();
      onBytes(0);
      // A retry after a lost worker finds the previous attempt's database: start from an empty one.
      await dropDatabase(b.restoreTestUrl, scratch);
      await ensureDatabase(b.restoreTestUrl, scratch);
      try {
        const { manifest, dataKey } = await openGeneration(b.store, b.provider, test.generationId);
        const outcome = await restoreInto({ store: b.store, manifest, dataKey, targetUrl: withDatabase(b.restoreTestUrl, scratch), onBytes });
        const bad = outcome.tables.filter((t) => !t.checksumOk || t.rows !== t.expectedRows);
        const reason = bad.length ? `differences in ${bad.map((t) => `${t.name} (${t.rows}/${t.expectedRows} rows${t.checksumOk ? '' : ', checksum'})`).join(', ')}` : undefined;
        await finishRestoreTest(deps.db, restoreTestId, { passed: outcome.ok, durationMs: outcome.durationMs, tables: outcome.tables, error: reason });
        return { passed: outcome.ok, durationMs: outcome.durationMs, tables: outcome.tables.length, ...(reason ? { reason } : {}) };
      } finally {
        await dropDatabase(b.restoreTestUrl, scratch);
      }
    },

    /** Also drops the test's scratch database: a worker killed mid-restore never ran the restore's own drop. */
    async failRestoreTest(input: { restoreTestId: string; reason: string }): Promise<void> {
      if (b.restoreTestUrl) await dropDatabase(b.restoreTestUrl, restoreScratchName(input.restoreTestId));
      await finishRestoreTest(deps.db, input.restoreTestId, { passed: false, error: input.reason });
    },

    /**
     * Generations still `running` or `written` (stored, never verified) and restore tests still
     * `running` whose workflow has ended — terminated by an operator, timed out, or failed without
     * recording it — are marked failed with that reason.
     * Otherwise a generation blocked every backup (the nightly one skipped, an operator's refused
     * with 409 backup_running) for up to 24 hours, a restore test blocked the next for 6, and the
     * ended test's scratch database — a full restored copy of every clinic's data — stayed on
     * the verification server for good. It is dropped first (`with (force)`, ending the ended
     * run's activity if it still writes), and the row is marked only once it is gone, so a drop
     * that fails is tried again at the next pass. Run by the outbox sweeper every minute.
     */
    async settleBackupsOfEndedWorkflows(): Promise<{ generationsFailed: number; restoreTestsFailed: number; scratchDropped: number }> {
      const settled = { generationsFailed: 0, restoreTestsFailed: 0, scratchDropped: 0 };
      if (!deps.temporal) return settled;
      const { generations, restoreTests } = await runningBackupWork(deps.db);
      for (const g of generations) {
        const status = await endedStatus(deps.temporal, g.workflowId);
        if (!status) continue;
        // Written but never verified: what it stored is kept, but nothing says it can be restored.
        const reason =
          g.state === 'written'
            ? `its workflow ${g.workflowId} ended (${status}) after writing it, before verifying it: what it wrote is kept, but it is not a backup to count on`
            : `its workflow ${g.workflowId} ended (${status}) without finishing it`;
        await markFailed(deps.db, g.id, reason);
        // As the workflow would have: a failure at any step is mailed to the operators once.
        await mailOperatorsOnce({ mark: { table: 'backup_generations', id: g.id }, kind: 'backup', generationId: g.id, reason });
        settled.generationsFailed += 1;
        Context.current().heartbeat(settled);
      }
      for (const t of restoreTests) {
        const status = await endedStatus(deps.temporal, t.workflowId);
        if (!status) continue;
        if (b.restoreTestUrl) {
          try {
            await dropDatabase(b.restoreTestUrl, restoreScratchName(t.id));
          } catch (err) {
            // The verification server is away: the row stays running, the next pass tries again.
            Context.current().log.warn('the scratch database of an ended restore test could not be dropped; trying again at the next pass', { restoreTestId: t.id, err: (err as Error).message });
            continue;
          }
        }
        const reason = `its workflow ${t.workflowId} ended (${status}) without finishing it; its scratch database was dropped`;
        await finishRestoreTest(deps.db, t.id, { passed: false, error: reason });
        await mailOperatorsOnce({ mark: { table: 'backup_restore_tests', id: t.id }, kind: 'restore_test', generationId: t.generationId, reason });
        settled.restoreTestsFailed += 1;
        Context.current().heartbeat(settled);
      }
      // Whatever else a finished test left on the verification server (a worker killed twice
      // mid-restore, the test then failed by its workflow): the scratch database of every test of
      // ours that is no longer running. Only ours: another deployment may share the server.
      if (b.restoreTestUrl) {
        const finished = new Set((await finishedRestoreTests(deps.db, 30)).map(restoreScratchName));
        for (const name of await scratchDatabases(b.restoreTestUrl)) {
          if (!finished.has(name)) continue;
          await dropDatabase(b.restoreTestUrl, name).catch((err: Error) => Context.current().log.warn('a leftover scratch database could not be dropped; trying again at the next pass', { name, err: err.message }));
          settled.scratchDropped += 1;
        }
      }
      return settled;
    },
  };
}
