import { exportSelectSql, recordPassSql, type ExportTable } from './export-tables';
import type { TenantTransaction } from './tenant-scope';

/**
 * Reads for the clinic's data export. Each is ONE statement inside the caller's clinic
 * transaction, so what it returns is one consistent snapshot (PostgreSQL gives every statement
 * one), and rows arrive through a cursor in batches: memory stays flat for any clinic size.
 */
const BATCH_ROWS = 1_000;

/** A table's rows as JSON arrays, columns in the catalog's order (db/export-tables.ts). */
export function streamExportTable(trx: TenantTransaction, table: ExportTable): AsyncIterable<{ r: unknown[] }> {
  return trx.raw(exportSelectSql(table)).stream({ batchSize: BATCH_ROWS, highWaterMark: BATCH_ROWS }) as unknown as AsyncIterable<{ r: unknown[] }>;
}

/**
 * Every patient with their consultations and timelines (recordPassSql): one statement, so the
 * three tables and the record pages come from one snapshot. Rows are
 * `[...patient columns, [[...consultation columns, doctor, [[...event columns], …]], …]]`.
 */
export function streamRecordPass(trx: TenantTransaction): AsyncIterable<{ r: unknown[] }> {
  // The buffer holds two batches, so the next batch is fetched while this one is written:
  // PostgreSQL builds the rows while Node opens and renders (a few MiB of JSON at most).
  return trx.raw(recordPassSql()).stream({ batchSize: 250, highWaterMark: 500 }) as unknown as AsyncIterable<{ r: unknown[] }>;
}

export async function countExportSubjects(trx: TenantTransaction): Promise<{ patients: number; files: number }> {
  const { rows } = await trx.raw(`select (select count(*) from patients)::int as patients, (select count(*) from process_files)::int as files`);
  return rows[0];
}

/** A page of process files (ids, their area, sealed name, where the encrypted copy lies). */
export async function processFilePage(trx: TenantTransaction, afterId: string | null, limit: number) {
  const { rows } = await trx.raw(
    `select f.id, f.process_id as "processId", f.name_sealed as "nameSealed", f.content_type as "contentType", f.size_bytes::text as "sizeBytes",
            f.storage_key as "storageKey", p.name_sealed as "processNameSealed"
       from process_files f join processes p on p.id = f.process_id
      where (?::uuid is null or f.id > ?::uuid) order by f.id limit ?`,
    [afterId, afterId, limit],
  );
  return rows as Array<{ id: string; processId: string; nameSealed: Buffer; contentType: string; sizeBytes: string; storageKey: string; processNameSealed: Buffer }>;
}
