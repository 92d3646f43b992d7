/**
 * The clinic's full data export (README: Data export): where each thing goes in the archive, the
 * progress the workflow reports, and the object keys it uses. Plain rules, shared by the API, the
 * activities and the workflow.
 *
 * Paths inside the archive are ASCII only (ids, table names, patient numbers): ZIP tools differ in
 * how they read non-ASCII names (Explorer on older Japanese Windows reads them as Shift_JIS), so
 * Japanese names live inside the files (CSV, the HTML indexes), never in the paths.
 */
export interface ExportProgress {
  phase: 'planning' | 'tables' | 'archive' | 'ready' | 'failed' | 'expired';
  tablesDone: number;
  tablesTotal: number;
  /** Table rows written so far (CSV and JSON Lines count once). */
  rows: number;
  /** Bytes written so far (before compression): table files, then records, then the archive. */
  bytes: number;
  patientsDone: number;
  patientsTotal: number;
  filesTotal: number;
}

export const initialProgress = (): ExportProgress => ({ phase: 'planning', tablesDone: 0, tablesTotal: 0, rows: 0, bytes: 0, patientsDone: 0, patientsTotal: 0, filesTotal: 0 });

/** Patients per folder of record pages, `records/<NNNN>/` (a folder of 100,000 files is unusable in most file managers). */
export const PATIENTS_PER_BATCH = 1_000;

/** Object keys (lib/storage/object-store.ts allows a-z 0-9 / -): all under the clinic's prefix, which contract-end purge deletes. */
export const exportPrefix = (tenantId: string, exportId: string) => `tenants/${tenantId}/exports/${exportId}`;
export const exportArchiveKey = (tenantId: string, exportId: string) => `${exportPrefix(tenantId, exportId)}/archive`;
export const exportPartKey = (tenantId: string, exportId: string, part: string) => `${exportPrefix(tenantId, exportId)}/parts/${part.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;

/** Vault contexts: each part and the archive are sealed to this clinic, this export and their name. */
export const exportPartContext = (exportId: string, part: string) => `data_exports.part:${exportId}/${part}`;
export const exportArchiveContext = (exportId: string) => `data_exports.archive:${exportId}`;

/** Part names (the activities write them, the assembler reads them). */
export const tablePart = (table: string, kind: 'csv' | 'jsonl') => `tables/${table}.${kind}`;

export const batchFolder = (batch: number) => String(batch + 1).padStart(4, '0');

const FILE_EXTENSIONS: Record<string, string> = {
  'application/pdf': '.pdf',
  'image/png': '.png',
  'image/jpeg': '.jpg',
  'image/gif': '.gif',
  'image/webp': '.webp',
  'application/dicom': '.dcm',
  'application/zip': '.zip',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': '.docx',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': '.xlsx',
  'text/plain': '.txt',
  'text/csv': '.csv',
};

/** A process file's place in the archive: its area and its own id, with the extension of its type. */
export const processFilePath = (processId: string, fileId: string, contentType: string) => `files/${processId}/${fileId}${FILE_EXTENSIONS[contentType] ?? ''}`;

/** The same as SQL over process_files' columns (the CSV's archive_path column). */
export const processFilePathSql = () =>
  `'files/' || process_id || '/' || id || case content_type ${Object.entries(FILE_EXTENSIONS).map(([t, e]) => `when '${t}' then '${e}'`).join(' ')} else '' end`;

/** A patient's record document: their number (letters, digits, "-") and the start of their id. */
export const patientDocumentPath = (batch: number, patientNumber: string, patientId: string) =>
  `records/${batchFolder(batch)}/${patientNumber.replace(/[^A-Za-z0-9-]/g, '_')}_${patientId.slice(0, 8)}.html`;

/** Whole files text compresses well; stored files that are already compressed get a light pass. */
export const compressionLevelFor = (contentType: string) => (contentType.startsWith('text/') ? 6 : 1);
