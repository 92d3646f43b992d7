import { createReadStream } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { recordAudit, type AuditContext } from '../db/audit';
import type { Db } from '../db/connection';
import { findExport, markExportExpired, markExportFailed, markExportReady, type ExportSummary } from '../db/data-exports';
import { countExportSubjects, patientRecordBatch, processFilePage, streamExportTable } from '../db/export-reads';
import { EXCLUDED_TABLES, EXPORT_TABLES, type ExportTable } from '../db/export-tables';
import { withTenant } from '../db/tenant-scope';
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
import type { Vault } from '../lib/crypto/vault';
import { SealedTempFile } from '../lib/sealed-temp-file';
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

export function createDataExportActivities(deps: DataExportDeps) {
  const readPart = async (ref: DataExportRef, part: string): Promise<Readable> => {
    const decrypt = await deps.vault.decryptStream(ref.tenantId, exportPartContext(ref.exportId, part));
    return pipelineToReadable(await deps.storage.get(exportPartKey(ref.tenantId, ref.exportId, part)), decrypt);
  };

  const tableParts = () => EXPORT_TABLES.flatMap((t) => [tablePart(t.name, 'csv'), tablePart(t.name, 'jsonl')]);

  return {
    /** What the workflow will do: the tables in order and how many patients and files; or that the row is gone. */
    async planDataExport(ref: DataExportRef): Promise<{ outcome: 'planned' | 'export_missing' | 'not_running'; tables: string[]; patients: number; files: number }> {
      return withTenant(deps.db, ref.tenantId, async (trx) => {
        const row = await findExport(trx, ref.exportId);
        if (!row) return { outcome: 'export_missing', tables: [], patients: 0, files: 0 };
        if (row.state !== 'running') return { outcome: 'not_running', tables: [], patients: 0, files: 0 };
        const counts = await countExportSubjects(trx);
        return { outcome: 'planned', tables: EXPORT_TABLES.map((t) => t.name), ...counts };
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
        await deps.storage.put(exportPartKey(ref.tenantId, ref.exportId, csvPart), createReadStream(csv.path));
        await deps.storage.put(exportPartKey(ref.tenantId, ref.exportId, jsonPart), createReadStream(jsonl.path));
        return { table: table.name, rows, bytes };
      } finally {
        await csv.remove();
        await jsonl.remove();
      }
    },

    /** The archive, encrypted into object storage (the parts stay until the export is ready). */
    async assembleExportArchive(ref: DataExportRef & { createdAt: string; tables: Array<{ name: string; rows: number }> }) {
      const beat = heartbeat();
      const clinic = await findTenant(deps.db, ref.tenantId);
      const clinicName = clinic?.name ?? ref.tenantId;
      const zip = new ZipWriter(japanClockParts(new Date(ref.createdAt)));
      const archive = measure();
      const encrypt = await deps.vault.encryptStream(ref.tenantId, exportArchiveContext(ref.exportId));
      const key = exportArchiveKey(ref.tenantId, ref.exportId);
      const stored = deps.storage.put(key, pipelineToReadable(zip.output, archive, encrypt));
      const entries: ZipEntryResult[] = [];
      const add: AddEntry = async (path, content, opts) => {
        entries.push(await zip.add(path, content, opts));
        beat();
      };
      let patients = 0;
      let files = 0;
      const missingFiles: string[] = [];
      const writing = (async () => {
        for (const t of EXPORT_TABLES) {
          await add(tablePart(t.name, 'csv'), await readPart(ref, tablePart(t.name, 'csv')));
          await add(tablePart(t.name, 'jsonl'), await readPart(ref, tablePart(t.name, 'jsonl')));
        }
        patients = await addPatientRecords(ref, clinicName, ref.createdAt, add);
        files = await addProcessFiles(ref, clinicName, add, missingFiles);
        const tables = EXPORT_TABLES.map((t) => ({ ...t, rows: ref.tables.find((r) => r.name === t.name)?.rows ?? 0 }));
        await add('README.txt', renderArchiveReadme({ clinicName, exportId: ref.exportId, exportedAt: ref.createdAt, tables, excluded: EXCLUDED_TABLES, patients, files, missingFiles }));
        const manifest = {
          exportId: ref.exportId, tenantId: ref.tenantId, clinic: clinicName, exportedAt: ref.createdAt, algorithm: 'SHA-256',
          files: entries.map((e) => ({ path: e.path, bytes: e.bytes, sha256: e.sha256 })),
          missingFiles,
        };
        const sums = entries.map((e) => `${e.sha256}  ${e.path}\n`).join('');
        await zip.add('SHA256SUMS.txt', sums);
        await zip.add('manifest.json', `${JSON.stringify(manifest, null, 1)}\n`);
        await zip.finish();
      })();
      // Either side failing must end the other: a failed entry ends the upload, a failed upload the writer.
      writing.catch((err: Error) => zip.output.destroy(err));
      const [written, put] = await Promise.allSettled([writing, stored]);
      if (written.status === 'rejected' || put.status === 'rejected') {
        zip.output.destroy();
        await deps.storage.delete(key).catch(() => undefined);
        throw written.status === 'rejected' ? written.reason : (put as PromiseRejectedResult).reason;
      }
      // The parts stay until the export is marked ready: a retry of this step still finds them.
      return { objectKey: key, sizeBytes: archive.bytes(), sha256: archive.sha256(), entries: zip.entries, patients, files, missingFiles: missingFiles.length };
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
      await Promise.all([...tableParts().map((p) => exportPartKey(ref.tenantId, ref.exportId, p)), exportArchiveKey(ref.tenantId, ref.exportId)].map((k) => deps.storage.delete(k).catch(() => undefined)));
      await withTenant(deps.db, ref.tenantId, async (trx) => {
        if (await markExportFailed(trx, ref.exportId, ref.reason)) {
          await recordAudit(trx, SYSTEM, { action: 'data_export.fail', outcome: 'failed', targetType: 'data_export', targetId: ref.exportId });
        }
      });
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

  /**
   * One page per patient under records/NNNN/, 1,000 patients per short transaction (read, commit,
   * then open and render), and records/index.html gathered in an encrypted scratch file meanwhile.
   */
  async function addPatientRecords(ref: DataExportRef, clinicName: string, exportedAt: string, add: AddEntry): Promise<number> {
    const open = await deps.vault.textOpener(ref.tenantId);
    const indexContext = exportPartContext(ref.exportId, 'records/index.html');
    const index = await SealedTempFile.create(await deps.vault.encryptStream(ref.tenantId, indexContext));
    try {
      await index.write(patientIndexHead(clinicName));
      let afterId: string | null = null;
      let count = 0;
      for (let batch = 0; ; batch += 1) {
        const rows = await withTenant(deps.db, ref.tenantId, (trx) => patientRecordBatch(trx, afterId, PATIENTS_PER_BATCH));
        if (rows.length === 0) break;
        for (const r of rows) {
          const opened = (field: string, value: string | null) => (value === null ? null : open(`patients.${field}:${r.id}`, Buffer.from(value, 'base64')));
          const c = (field: string, id: string, value: string | null) => (value === null ? null : open(`consultations.${field}:${id}`, Buffer.from(value, 'base64')));
          const patient = {
            id: r.id, patientNumber: r.patientNumber, name: opened('name', r.name)!, kana: opened('kana', r.kana)!, birthDate: opened('birthDate', r.birthDate)!,
            phone: opened('phone', r.phone), email: opened('email', r.email), address: opened('address', r.address), createdAt: r.createdAt, updatedAt: r.updatedAt,
          };
          const doc: PatientRecordDocument = {
            clinicName,
            exportedAt,
            patient,
            consultations: r.consultations.map((v) => {
              const questionnaire = c('questionnaire', v.id, v.questionnaire);
              const prescriptions = c('prescriptions', v.id, v.prescriptions);
              return {
                ...v,
                questionnaire: questionnaire === null ? null : JSON.parse(questionnaire),
                note: c('note', v.id, v.note),
                prescriptions: prescriptions === null ? null : JSON.parse(prescriptions),
                cancelReason: c('cancelReason', v.id, v.cancelReason),
              };
            }),
          };
          const path = patientDocumentPath(batch, r.patientNumber, r.id);
          await add(path, renderPatientRecord(doc));
          await index.write(patientIndexRow(path, patient, r.consultations.length));
          count += 1;
        }
        afterId = rows[rows.length - 1]!.id;
      }
      await index.write(patientIndexFoot());
      const { bytes } = await index.close();
      await add('records/index.html', index.readBack(await deps.vault.decryptStream(ref.tenantId, indexContext)), { expectedBytes: bytes });
      return count;
    } finally {
      await index.remove();
    }
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
  const names = table.columns.map((c) => c.name);
  const idAt = names.indexOf('id');
  const sealed = table.columns.flatMap((c, i) => (c.sealed ? [{ i, context: `${c.sealed}:`, json: Boolean(c.json) }] : []));
  await csv.write(`${CSV_BOM}${csvLine(names)}`);
  let rows = 0;
  for await (const { r } of streamExportTable(trx, table)) {
    for (const s of sealed) {
      const v = r[s.i] as string | null;
      if (v === null) continue;
      const plain = open(s.context + String(r[idAt]), Buffer.from(v, 'base64'));
      r[s.i] = s.json ? JSON.parse(plain) : plain;
    }
    const record: Record<string, unknown> = {};
    for (let i = 0; i < names.length; i++) record[names[i]!] = r[i];
    await csv.write(csvLine(r));
    await jsonl.write(`${JSON.stringify(record)}\n`);
    rows += 1;
    if (rows % 1000 === 0) beat(1000);
  }
  return rows;
}
