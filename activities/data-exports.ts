import { createReadStream } from 'node:fs';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { asyncLocalStorage, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { recordAudit, type AuditContext } from '../db/audit';
import type { Db } from '../db/connection';
import { findExport, markExportExpired, markExportFailed, markExportReady, type ExportSummary } from '../db/data-exports';
import { countExportSubjects, processFilePage, streamExportTable, streamRecordPass } from '../db/export-reads';
import { EXCLUDED_TABLES, EXPORT_TABLES, exportTable, RECORD_TABLES, type ExportTable } from '../db/export-tables';
import { withTenant } from '../db/tenant-scope';
import { endedWorkflows } from '../temporal/ended-workflows';
import { findTenant } from '../db/tenants';
import { CSV_BOM, csvLine } from '../domain/csv';
import {
  compressionLevelFor,
  exportArchiveContext,
  exportArchiveKey,
  exportPartContext,
  exportPartKey,
  PATIENTS_PER_BATCH,
  patientDocumentPath,
  processFilePath,
  tablePart,
} from '../domain/data-export';
import { fileIndexFoot, fileIndexHead, fileIndexRow, renderArchiveReadme } from '../domain/export-readme';
import { japanClockParts } from '../domain/japan-time';
import { patientIndexFoot, patientIndexHead, patientIndexRow, renderPatientRecord, type PatientRecordDocument } from '../domain/patient-record-document';
import { measure, throttled } from '../lib/backup/streams';
import { CiphertextIntegrityError } from '../lib/crypto/aead';
import type { Vault } from '../lib/crypto/vault';
import { paceCollections } from '../lib/paced-collections';
import { SealedTempFile, type SealedTempFileSummary } from '../lib/sealed-temp-file';
import type { ObjectStore } from '../lib/storage/object-store';
import { ZipWriter, type ZipEntryResult } from '../lib/zip-writer';
import { fileContentContext } from '../application/processes/process-record';

/**
 * The clinic's full data export (workflows/data-export.ts orchestrates; README: Data export).
 *
 * 1. exportTablePart, once per table: the table is read in ONE statement (one snapshot) inside a
 *    clinic transaction, sealed columns opened, rows written as CSV and JSON Lines into two
 *    encrypted local scratch files; the transaction ends; only then are the files uploaded as
 *    encrypted parts (`…/parts/…`). No transaction is open while object storage is called.
 * 2. assembleExportArchive: one ZIP, streamed through the cipher into `…/archive`: the parts
 *    (decrypted on the way), a clinical record page per patient (read 1,000 patients at a time in
 *    short transactions), every process file in its original bytes, the indexes, README.txt and
 *    last the manifest with every entry's SHA-256.
 * 3. finishDataExport marks the export ready (with its log entry) and deletes the parts.
 *
 * Every activity is idempotent: a retry overwrites its own part or archive object, and marking
 * rows ready/failed/expired changes a row only from the state it expects.
 */
export interface DataExportDeps {
  db: Db;
  vault: Vault;
  storage: ObjectStore;
  /** Temporal's visibility, for finding exports whose workflow ended abnormally (the outbox sweeper's pass). */
  temporal?: Client;
}


export interface DataExportRef {
  tenantId: string;
  exportId: string;
}

const SYSTEM: AuditContext = { actorType: 'system' };

type AddEntry = (path: string, content: Readable | string | Buffer, opts?: { expectedBytes?: number; level?: number }) => Promise<void>;

/** An export whose row is missing cannot be produced; raised as non-retryable. */
export const EXPORT_PERMANENT_ERRORS = ['ExportMissing', 'ExportTableUnknown'];

const heartbeat = () => {
  let done = 0;
  const beat = throttled(2_000, () => Context.current().heartbeat({ done }));
  return (n = 1) => {
    done += n;
    beat();
  };
};

/**
 * A cancelled export (its clinic's purge cancels it) writes nothing more to object storage. The
 * purge waits for the export to close before it deletes the clinic's objects, so whatever was
 * written before goes with them.
 */
const stopIfCancelled = () => {
  if (asyncLocalStorage.getStore()?.cancellationSignal.aborted) throw new CancelledFailure('the export was cancelled');
};

export function createDataExportActivities(deps: DataExportDeps) {
  const readPart = async (ref: DataExportRef, part: string): Promise<Readable> => {
    const decrypt = await deps.vault.decryptStream(ref.tenantId, exportPartContext(ref.exportId, part));
    return pipelineToReadable(await deps.storage.get(exportPartKey(ref.tenantId, ref.exportId, part)), decrypt);
  };

  const tableParts = () => EXPORT_TABLES.flatMap((t) => [tablePart(t.name, 'csv'), tablePart(t.name, 'jsonl')]);

  return {
    /** What the workflow will do: the tables in order and how many patients and files; or that the row is gone. */
    async planDataExport(ref: DataExportRef): Promise<{ outcome: 'planned' | 'export_missing' | 'not_running'; tables: string[]; recordTables: string[]; patients: number; files: number }> {
      return withTenant(deps.db, ref.tenantId, async (trx) => {
        const row = await findExport(trx, ref.exportId);
        if (!row) return { outcome: 'export_missing', tables: [], recordTables: [], patients: 0, files: 0 };
        if (row.state !== 'running') return { outcome: 'not_running', tables: [], recordTables: [], patients: 0, files: 0 };
        const counts = await countExportSubjects(trx);
        // `tables` get a step each; the patients, their consultations and timelines are written by
        // the archive's records pass.
        return { outcome: 'planned', tables: EXPORT_TABLES.filter((t) => !isRecordTable(t.name)).map((t) => t.name), recordTables: [...RECORD_TABLES], ...counts };
      });
    },

    /** One table as CSV and JSON Lines parts; returns its row count and the bytes written. */
    async exportTablePart(ref: DataExportRef & { table: string }): Promise<{ table: string; rows: number; bytes: number }> {
      const table = EXPORT_TABLES.find((t) => t.name === ref.table);
      if (!table) throw ApplicationFailure.nonRetryable(`no exported table ${ref.table}`, 'ExportTableUnknown');
      const beat = heartbeat();
      const csvPart = tablePart(table.name, 'csv');
      const jsonPart = tablePart(table.name, 'jsonl');
      const open = await deps.vault.textOpener(ref.tenantId);
      const csv = await SealedTempFile.create(await deps.vault.encryptStream(ref.tenantId, exportPartContext(ref.exportId, csvPart)));
      const jsonl = await SealedTempFile.create(await deps.vault.encryptStream(ref.tenantId, exportPartContext(ref.exportId, jsonPart)));
      try {
        const rows = await withTenant(deps.db, ref.tenantId, (trx) => writeTableRows(trx, table, open, csv, jsonl, beat));
        const bytes = (await csv.close()).bytes + (await jsonl.close()).bytes;
        // The transaction has ended: now the encrypted files go to object storage.
        stopIfCancelled();
        await deps.storage.put(exportPartKey(ref.tenantId, ref.exportId, csvPart), createReadStream(csv.path));
        await deps.storage.put(exportPartKey(ref.tenantId, ref.exportId, jsonPart), createReadStream(jsonl.path));
        return { table: table.name, rows, bytes };
      } finally {
        await csv.remove();
        await jsonl.remove();
      }
    },

    /**
     * The archive, built into an encrypted local scratch file and only then uploaded (no
     * transaction is open while object storage is called); the parts stay until the export is ready.
     */
    async assembleExportArchive(ref: DataExportRef & { createdAt: string; tables: Array<{ name: string; rows: number }> }) {
      const beat = heartbeat();
      const clinic = await findTenant(deps.db, ref.tenantId);
      const clinicName = clinic?.name ?? ref.tenantId;
      const zip = new ZipWriter(japanClockParts(new Date(ref.createdAt)));
      const archive = measure();
      const key = exportArchiveKey(ref.tenantId, ref.exportId);
      const local = await SealedTempFile.create(await deps.vault.encryptStream(ref.tenantId, exportArchiveContext(ref.exportId)));
      const captured = local.drain(pipelineToReadable(zip.output, archive));
      // SHA256SUMS.txt and manifest.json grow entry by entry in scratch files of their own, so
      // 100,000 entries are never a list in memory; they go last, after everything they list.
      const sums = await scratchFile(ref, 'sha256sums');
      const manifest = await scratchFile(ref, 'manifest');
      const head = { exportId: ref.exportId, tenantId: ref.tenantId, clinic: clinicName, exportedAt: ref.createdAt, algorithm: 'SHA-256' };
      await manifest.file.write(`${JSON.stringify(head, null, 1).slice(0, -2)},\n "files": [`);
      let listed = 0;
      const list = async (e: ZipEntryResult) => {
        const a = sums.file.write(`${e.sha256}  ${e.path}\n`);
        const b = manifest.file.write(`${listed++ === 0 ? '\n' : ',\n'}  ${JSON.stringify({ path: e.path, bytes: e.bytes, sha256: e.sha256 })}`);
        if (a || b) await Promise.all([a, b]);
        beat();
      };
      const add: AddEntry = async (path, content, opts) => list(await zip.add(path, content, opts));
      const addDeflated = async (path: string, part: ScratchPart) => zip.addDeflated(path, part.file.readBack(await deps.vault.decryptStream(ref.tenantId, part.context)), part.info);
      let records: RecordPass | undefined;
      let files = 0;
      const missingFiles: string[] = [];
      const writing = (async () => {
        records = await recordPass(ref, clinicName, ref.createdAt, add, beat);
        await list(await addDeflated('records/index.html', records.index));
        for (const t of EXPORT_TABLES) {
          for (const kind of ['csv', 'jsonl'] as const) {
            const part = tablePart(t.name, kind);
            const written = records.parts.get(part);
            if (written) await list(await addDeflated(part, written));
            else await add(part, await readPart(ref, part));
          }
        }
        files = await addProcessFiles(ref, clinicName, add, missingFiles);
        const tables = EXPORT_TABLES.map((t) => ({ ...t, rows: records!.rows.get(t.name) ?? ref.tables.find((r) => r.name === t.name)?.rows ?? 0 }));
        await add('README.txt', renderArchiveReadme({ clinicName, exportId: ref.exportId, exportedAt: ref.createdAt, tables, excluded: EXCLUDED_TABLES, patients: records.patients, files, missingFiles }));
        await manifest.file.write(`\n ],\n "missingFiles": ${JSON.stringify(missingFiles)}\n}\n`);
        sums.info = (await sums.file.close()) as Required<SealedTempFileSummary>;
        manifest.info = (await manifest.file.close()) as Required<SealedTempFileSummary>;
        await addDeflated('SHA256SUMS.txt', sums);
        await addDeflated('manifest.json', manifest);
        await zip.finish();
      })();
      // The archive is where the export's memory peaks: garbage is collected at a lower mark meanwhile.
      const endCollections = paceCollections();
      try {
        // Either side failing must end the other: a failed entry ends the capture, a failed capture the writer.
        writing.catch((err: Error) => zip.output.destroy(err));
        const [written, stored] = await Promise.allSettled([writing, captured]);
        if (written.status === 'rejected' || stored.status === 'rejected') {
          zip.output.destroy();
          throw written.status === 'rejected' ? written.reason : (stored as PromiseRejectedResult).reason;
        }
        // Only now, with every transaction ended, does the archive go to object storage.
        stopIfCancelled();
        await deps.storage.put(key, createReadStream(local.path));
      } finally {
        endCollections();
        await Promise.all([local.remove(), ...[sums, manifest, ...(records?.parts.values() ?? []), ...(records ? [records.index] : [])].map((p) => p.file.remove())]);
      }
      const recordTables = RECORD_TABLES.map((name) => ({ name, rows: records!.rows.get(name) ?? 0, bytes: records!.bytes.get(name) ?? 0 }));
      return { objectKey: key, sizeBytes: archive.bytes(), sha256: archive.sha256(), entries: zip.entries, patients: records!.patients, files, missingFiles: missingFiles.length, tables: recordTables };
    },

    /** The archive is ready: the row says until when, the operation log says so; the parts go. */
    async finishDataExport(ref: DataExportRef & { objectKey: string; sizeBytes: number; sha256: string; retentionSeconds: number; summary: ExportSummary }): Promise<{ expiresAt: string | null }> {
      // The state and its log entry commit together, so a retry neither repeats nor loses the entry.
      const row = await withTenant(deps.db, ref.tenantId, async (trx) => {
        const marked = await markExportReady(trx, ref.exportId, ref);
        if (marked.changed) {
          await recordAudit(trx, SYSTEM, { action: 'data_export.ready', outcome: 'success', targetType: 'data_export', targetId: ref.exportId, details: { bytes: ref.sizeBytes, sha256: ref.sha256, expiresAt: marked.row?.expiresAt?.toISOString() } });
        }
        return marked.row;
      });
      await Promise.all(tableParts().map((p) => deps.storage.delete(exportPartKey(ref.tenantId, ref.exportId, p))));
      return { expiresAt: row?.expiresAt?.toISOString() ?? null };
    },

    /** Marks the export failed and removes whatever it stored. */
    async failDataExport(ref: DataExportRef & { reason: string }): Promise<void> {
      await removeStored(ref);
      await markFailed(ref, ref.reason);
    },

    /**
     * Exports still running whose workflow ended without ending them — terminated by an operator,
     * failed, timed out — are marked failed (the failure logged, their parts removed), as the workflow
     * itself would have: otherwise the row stayed `running` and the clinic could never export
     * again (`409 export_running`). Run by the outbox sweeper every minute; idempotent.
     */
    async failExportsOfEndedWorkflows(): Promise<{ examined: number; failed: number }> {
      if (!deps.temporal) return { examined: 0, failed: 0 };
      let examined = 0;
      let failed = 0;
      for await (const w of endedWorkflows(deps.temporal, 'dataExportWorkflow', 'data-export')) {
        examined += 1;
        const ref = { tenantId: w.tenantId, exportId: w.id };
        // Only a row still running: a ready archive whose workflow was ended while it waited for its expiry stays.
        if (await markFailed(ref, `its workflow ended: ${w.status}`, { workflowStatus: w.status })) {
          await removeStored(ref);
          failed += 1;
        }
        Context.current().heartbeat({ examined, failed });
      }
      return { examined, failed };
    },

    /** Retention is over: the archive is deleted, the row marked expired (kept as the record). */
    async expireDataExport(ref: DataExportRef): Promise<{ outcome: 'expired' | 'already_expired' }> {
      await deps.storage.delete(exportArchiveKey(ref.tenantId, ref.exportId));
      const expired = await withTenant(deps.db, ref.tenantId, async (trx) => {
        if (!(await markExportExpired(trx, ref.exportId))) return false;
        await recordAudit(trx, SYSTEM, { action: 'data_export.expire', outcome: 'success', targetType: 'data_export', targetId: ref.exportId });
        return true;
      });
      return { outcome: expired ? 'expired' : 'already_expired' };
    },
  };

  /** A deflated, encrypted local scratch file for one archive entry (its info is set when it is closed). */
  async function scratchFile(ref: DataExportRef, part: string): Promise<ScratchPart> {
    const context = exportPartContext(ref.exportId, part);
    return { context, file: await SealedTempFile.create(await deps.vault.encryptStream(ref.tenantId, context), { deflate: TABLE_DEFLATE_LEVEL }), info: undefined as never };
  }

  /**
   * The records pass: ONE statement (one snapshot) reads every patient with their consultations
   * and timelines; each sealed value is opened once and goes both to the patient's record page
   * (straight into the archive) and to the rows of patients, consultations and
   * consultation_events (CSV and JSON Lines, deflated and encrypted into local scratch files that
   * the archive then takes as they are). Only local files are written while the statement runs.
   */
  async function recordPass(ref: DataExportRef, clinicName: string, exportedAt: string, add: AddEntry, beat: () => void): Promise<RecordPass> {
    const open = await deps.vault.textOpener(ref.tenantId);
    const scratch = (part: string) => scratchFile(ref, part);
    const pass: RecordPass = { patients: 0, parts: new Map(), rows: new Map(), bytes: new Map(), index: await scratch('records/index.html') };
    const writers = new Map<string, TableWriter>();
    try {
      for (const name of RECORD_TABLES) {
        const csv = await scratch(tablePart(name, 'csv'));
        const jsonl = await scratch(tablePart(name, 'jsonl'));
        pass.parts.set(tablePart(name, 'csv'), csv);
        pass.parts.set(tablePart(name, 'jsonl'), jsonl);
        const writer = new TableWriter(exportTable(name), open, csv.file, jsonl.file);
        await writer.begin();
        writers.set(name, writer);
      }
      const patients = writers.get('patients')!;
      const visits = writers.get('consultations')!;
      const timeline = writers.get('consultation_events')!;
      const p = patients.positions(['id', 'patient_number', 'name', 'kana', 'birth_date', 'phone', 'email', 'address', 'created_at', 'updated_at']);
      const v = visits.positions(['id', 'starts_at', 'ends_at', 'mode', 'status', 'questionnaire', 'note', 'prescriptions', 'payment_amount', 'payment_method', 'cancel_reason']);
      const e = timeline.positions(['type', 'status', 'occurred_at']);
      const visitColumns = visits.table.columns.length;
      await pass.index.file.write(patientIndexHead(clinicName));
      await withTenant(deps.db, ref.tenantId, async (trx) => {
        for await (const { r } of streamRecordPass(trx)) {
          const consultations = r.pop() as unknown[][];
          let waiting = patients.write(r);
          if (waiting) await waiting;
          const patient = {
            id: r[p.id] as string, patientNumber: r[p.patient_number] as string, name: r[p.name] as string, kana: r[p.kana] as string,
            birthDate: r[p.birth_date] as string, phone: r[p.phone] as string | null, email: r[p.email] as string | null, address: r[p.address] as string | null,
            createdAt: r[p.created_at] as string, updatedAt: r[p.updated_at] as string,
          };
          const doc: PatientRecordDocument = { clinicName, exportedAt, patient, consultations: [] };
          for (const c of consultations) {
            const events = c.pop() as unknown[][];
            const doctor = c.pop() as string;
            if (c.length !== visitColumns) throw new Error('records pass: unexpected consultation shape');
            waiting = visits.write(c);
            if (waiting) await waiting;
            for (const ev of events) {
              waiting = timeline.write(ev);
              if (waiting) await waiting;
            }
            doc.consultations.push({
              id: c[v.id] as string, startsAt: c[v.starts_at] as string, endsAt: c[v.ends_at] as string, mode: c[v.mode] as string, status: c[v.status] as string,
              practitioner: doctor, questionnaire: c[v.questionnaire], note: c[v.note] as string | null, prescriptions: c[v.prescriptions],
              paymentAmount: c[v.payment_amount] as number | null, paymentMethod: c[v.payment_method] as string | null, cancelReason: c[v.cancel_reason] as string | null,
              events: events.map((ev) => ({ type: ev[e.type] as string, status: ev[e.status] as string, at: ev[e.occurred_at] as string })),
            });
          }
          const path = patientDocumentPath(Math.floor(pass.patients / PATIENTS_PER_BATCH), patient.patientNumber, patient.id);
          await add(path, renderPatientRecord(doc));
          waiting = pass.index.file.write(patientIndexRow(path, patient, consultations.length));
          if (waiting) await waiting;
          pass.patients += 1;
          beat();
        }
      });
      await pass.index.file.write(patientIndexFoot());
      pass.index.info = (await pass.index.file.close()) as Required<SealedTempFileSummary>;
      for (const [name, writer] of writers) {
        pass.rows.set(name, writer.rows);
        pass.bytes.set(name, await writer.close(pass.parts.get(tablePart(name, 'csv'))!, pass.parts.get(tablePart(name, 'jsonl'))!));
      }
      return pass;
    } catch (err) {
      await Promise.all([...pass.parts.values(), pass.index].map((s) => s.file.remove()));
      throw err;
    }
  }

  /** Removes whatever an export stored (its table parts and its archive). */
  async function removeStored(ref: DataExportRef): Promise<void> {
    await Promise.all([...tableParts().map((p) => exportPartKey(ref.tenantId, ref.exportId, p)), exportArchiveKey(ref.tenantId, ref.exportId)].map((k) => deps.storage.delete(k).catch(() => undefined)));
  }

  /** Marks a running export failed, the failure logged with it; false if it was not running. */
  async function markFailed(ref: DataExportRef, reason: string, details?: Record<string, unknown>): Promise<boolean> {
    return withTenant(deps.db, ref.tenantId, async (trx) => {
      if (!(await markExportFailed(trx, ref.exportId, reason))) return false;
      await recordAudit(trx, SYSTEM, { action: 'data_export.fail', outcome: 'failed', targetType: 'data_export', targetId: ref.exportId, ...(details ? { details } : {}) });
      return true;
    });
  }

  /**
   * Whether a stored file opens whole to its recorded size. A storage or network failure is not
   * an answer: it is thrown, and the activity's retry reads again.
   */
  async function opensWhole(tenantId: string, f: { id: string; storageKey: string; sizeBytes: string | number }): Promise<boolean> {
    let bytes = 0;
    const count = new Writable({
      write(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        done();
      },
    });
    try {
      await pipeline(await deps.storage.get(f.storageKey), await deps.vault.decryptStream(tenantId, fileContentContext(f.id)), count);
    } catch (err) {
      if (err instanceof CiphertextIntegrityError) return false;
      throw err;
    }
    return bytes === Number(f.sizeBytes);
  }

  /** Every process file in its original bytes (decrypted from storage, page by page), and files/index.html. */
  async function addProcessFiles(ref: DataExportRef, clinicName: string, add: AddEntry, missing: string[]): Promise<number> {
    const open = await deps.vault.textOpener(ref.tenantId);
    const indexContext = exportPartContext(ref.exportId, 'files/index.html');
    const index = await SealedTempFile.create(await deps.vault.encryptStream(ref.tenantId, indexContext));
    try {
      await index.write(fileIndexHead(clinicName));
      let afterId: string | null = null;
      let count = 0;
      for (;;) {
        const page = await withTenant(deps.db, ref.tenantId, (trx) => processFilePage(trx, afterId, 200));
        if (page.length === 0) break;
        for (const f of page) {
          const path = processFilePath(f.processId, f.id, f.contentType);
          const processName = open(`processes.name:${f.processId}`, f.processNameSealed);
          const fileName = open(`process_files.name:${f.id}`, f.nameSealed);
          // A stored object that is gone cannot come back by retrying: the export says so instead
          // of failing, so the clinic still gets everything else.
          if (!(await deps.storage.exists(f.storageKey))) {
            missing.push(f.id);
            await index.write(fileIndexRow(null, processName, fileName, f.contentType, Number(f.sizeBytes)));
            continue;
          }
          // Nor can one that no longer opens (damaged in storage): checked whole before any of it
          // goes into the archive, where a failure halfway would end the export for good.
          if (!(await opensWhole(ref.tenantId, f))) {
            missing.push(f.id);
            await index.write(fileIndexRow(null, processName, fileName, f.contentType, Number(f.sizeBytes), 'unreadable'));
            continue;
          }
          const decrypt = await deps.vault.decryptStream(ref.tenantId, fileContentContext(f.id));
          await add(path, pipelineToReadable(await deps.storage.get(f.storageKey), decrypt), { expectedBytes: Number(f.sizeBytes), level: compressionLevelFor(f.contentType) });
          await index.write(fileIndexRow(path, processName, fileName, f.contentType, Number(f.sizeBytes)));
          count += 1;
        }
        afterId = page[page.length - 1]!.id;
      }
      await index.write(fileIndexFoot());
      const { bytes } = await index.close();
      await add('files/index.html', index.readBack(await deps.vault.decryptStream(ref.tenantId, indexContext)), { expectedBytes: bytes });
      return count;
    } finally {
      await index.remove();
    }
  }
}

/** `source` through the given transforms, as one readable (errors end it). */
function pipelineToReadable(source: Readable, ...through: NodeJS.ReadWriteStream[]): Readable {
  const out = new PassThrough();
  void pipeline([source, ...through, out]).catch((err: Error) => out.destroy(err));
  return out;
}

/** Streams one table's rows into the two scratch files; returns the row count. */
async function writeTableRows(
  trx: Parameters<typeof streamExportTable>[0],
  table: ExportTable,
  open: (context: string, sealed: Buffer) => string,
  csv: SealedTempFile,
  jsonl: SealedTempFile,
  beat: (n?: number) => void,
): Promise<number> {
  const writer = new TableWriter(table, open, csv, jsonl);
  await writer.begin();
  for await (const { r } of streamExportTable(trx, table)) {
    const waiting = writer.write(r);
    if (waiting) await waiting;
    if (writer.rows % 1000 === 0) beat(1000);
  }
  return writer.rows;
}

/** A table's rows (JSON arrays in catalog column order) as CSV and JSON Lines, sealed columns opened in place. */
class TableWriter {
  rows = 0;
  private readonly names: string[];
  private readonly sealed: Array<{ i: number; context: string; json: boolean }>;
  private readonly idAt: number;

  constructor(
    readonly table: ExportTable,
    private readonly open: (context: string, sealed: Buffer) => string,
    private readonly csv: SealedTempFile,
    private readonly jsonl: SealedTempFile,
  ) {
    this.names = table.columns.map((c) => c.name);
    this.idAt = this.names.indexOf('id');
    this.sealed = table.columns.flatMap((c, i) => (c.sealed ? [{ i, context: `${c.sealed}:`, json: Boolean(c.json) }] : []));
  }

  /** The positions of the named columns in a row (a name the catalog lacks is a programming error). */
  positions<K extends string>(names: K[]): Record<K, number> {
    return Object.fromEntries(
      names.map((n) => {
        const i = this.names.indexOf(n);
        if (i < 0) throw new Error(`${this.table.name} has no exported column ${n}`);
        return [n, i];
      }),
    ) as Record<K, number>;
  }

  async begin(): Promise<void> {
    await this.csv.write(`${CSV_BOM}${csvLine(this.names)}`);
  }

  /**
   * Writes one row, opening its sealed values in `r` itself (the caller reads them opened).
   * Returns a promise only when a file must be waited for (SealedTempFile.write).
   */
  write(r: unknown[]): Promise<void> | undefined {
    for (const s of this.sealed) {
      const v = r[s.i] as string | null;
      if (v === null) continue;
      const plain = this.open(s.context + String(r[this.idAt]), Buffer.from(v, 'base64'));
      r[s.i] = s.json ? JSON.parse(plain) : plain;
    }
    const record: Record<string, unknown> = {};
    for (let i = 0; i < this.names.length; i++) record[this.names[i]!] = r[i];
    this.rows += 1;
    const csv = this.csv.write(csvLine(r));
    const jsonl = this.jsonl.write(`${JSON.stringify(record)}\n`);
    return csv || jsonl ? Promise.all([csv, jsonl]).then(() => undefined) : undefined;
  }

  /** Ends both files (deflated scratch parts); returns the plain bytes written. */
  async close(csv: ScratchPart, jsonl: ScratchPart): Promise<number> {
    csv.info = (await this.csv.close()) as Required<SealedTempFileSummary>;
    jsonl.info = (await this.jsonl.close()) as Required<SealedTempFileSummary>;
    return csv.info.bytes + jsonl.info.bytes;
  }
}

/** A deflated, encrypted scratch file that becomes one archive entry, with its vault context. */
interface ScratchPart {
  file: SealedTempFile;
  context: string;
  info: Required<SealedTempFileSummary>;
}

interface RecordPass {
  patients: number;
  /** tables/<name>.csv|jsonl of the record tables. */
  parts: Map<string, ScratchPart>;
  rows: Map<string, number>;
  bytes: Map<string, number>;
  index: ScratchPart;
}

/**
 * Table text deflates fast at level 1 and still shrinks to about a fifth; the default level
 * took several times the CPU for a few percent less (measured by `npm run bench`, part exports).
 */
const TABLE_DEFLATE_LEVEL = 1;

const isRecordTable = (name: string) => (RECORD_TABLES as readonly string[]).includes(name);
