import { ActivityCancellationType, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { initialProgress } from '../domain/data-export';
import { PERMANENT_KEY_ERRORS } from '../lib/crypto/key-provider';
import { exportProgressQuery } from './data-export-messages';

const PERMANENT = ['ExportMissing', 'ExportTableUnknown', ...PERMANENT_KEY_ERRORS];
const { planDataExport, finishDataExport, failDataExport, expireDataExport } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 10, maximumInterval: '1 minute', nonRetryableErrorTypes: PERMANENT },
});
/**
 * Long steps heartbeat (every 2 s of work); a lost worker is noticed within a minute and the step
 * runs again from its start (each overwrites its own part or archive). Five attempts, then the
 * export fails visibly and the clinic can start another. Cancelled (the clinic's purge), the
 * workflow closes only once the running step has stopped, so nothing is written after it closed.
 */
const { exportTablePart, assembleExportArchive } = proxyActivities<Activities>({
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '1 minute',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { maximumAttempts: 5, initialInterval: '5 seconds', nonRetryableErrorTypes: PERMANENT },
});

export interface DataExportInput {
  tenantId: string;
  exportId: string;
  /** When the clinic asked (the archive's timestamps and README say this time). */
  createdAt: string;
  /** How long the archive is kept once ready (EXPORT_RETENTION_SECONDS when it was asked for). */
  retentionSeconds: number;
}

export interface DataExportResult {
  exportId: string;
  outcome: 'expired' | 'failed' | 'export_missing' | 'not_running';
  rows: number;
  sizeBytes?: number;
}

/**
 * One full data export of a clinic (`data-export/<id>`, search attribute TenantId; ids only in
 * its input, history and query — never a name or a value from the clinic's records). Tables one
 * after another into encrypted parts, then the archive (with the records pass over patients,
 * consultations and timelines); then it waits out the retention time and deletes the archive. Its progress (tables done, rows, bytes) answers the `progress` query.
 */
export async function dataExportWorkflow(input: DataExportInput): Promise<DataExportResult> {
  const ref = { tenantId: input.tenantId, exportId: input.exportId };
  const progress = initialProgress();
  setHandler(exportProgressQuery, () => progress);

  const plan = await planDataExport(ref);
  if (plan.outcome !== 'planned') return { exportId: input.exportId, outcome: plan.outcome, rows: 0 };
  progress.tablesTotal = plan.tables.length + (plan.recordTables?.length ?? 0);
  progress.patientsTotal = plan.patients;
  progress.filesTotal = plan.files;
  try {
    progress.phase = 'tables';
    const tables: Array<{ name: string; rows: number }> = [];
    for (const table of plan.tables) {
      const done = await exportTablePart({ ...ref, table });
      tables.push({ name: done.table, rows: done.rows });
      progress.tablesDone += 1;
      progress.rows += done.rows;
      progress.bytes += done.bytes;
    }
    progress.phase = 'archive';
    const archive = await assembleExportArchive({ ...ref, createdAt: input.createdAt, tables });
    progress.patientsDone = archive.patients;
    progress.bytes = archive.sizeBytes;
    // Patients, consultations and timelines are written by the archive's records pass; its
    // counts replace any earlier part of the same table (an export planned before the pass
    // existed wrote those parts too). Only data changes here, no command: old histories replay.
    for (const t of archive.tables ?? []) {
      const earlier = tables.findIndex((x) => x.name === t.name);
      if (earlier >= 0) progress.rows -= tables.splice(earlier, 1)[0]!.rows;
      else progress.tablesDone += 1;
      tables.push({ name: t.name, rows: t.rows });
      progress.rows += t.rows;
    }
    await finishDataExport({
      ...ref,
      objectKey: archive.objectKey,
      sizeBytes: archive.sizeBytes,
      sha256: archive.sha256,
      retentionSeconds: input.retentionSeconds,
      summary: { tables, patients: archive.patients, files: archive.files, entries: archive.entries },
    });
    progress.phase = 'ready';
  } catch (err) {
    progress.phase = 'failed';
    await failDataExport({ ...ref, reason: reasonOf(err) });
    return { exportId: input.exportId, outcome: 'failed', rows: progress.rows };
  }
  await sleep(input.retentionSeconds * 1000);
  await expireDataExport(ref);
  progress.phase = 'expired';
  return { exportId: input.exportId, outcome: 'expired', rows: progress.rows, sizeBytes: progress.bytes };
}

const reasonOf = (err: unknown): string => {
  const e = err as { message?: string; cause?: { message?: string; cause?: { message?: string } } };
  return [e.message, e.cause?.message, e.cause?.cause?.message].filter(Boolean).join(': ').slice(0, 1000) || 'unknown error';
};
