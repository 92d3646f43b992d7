import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/**
 * A backup generation's manifest: everything needed to check and restore it without the
 * database it came from (disaster recovery starts from the store alone). It holds no patient
 * data: table names, counts, checksums, sizes and the generation's data key, wrapped by the
 * platform's key provider. It is stored beside the objects and in `backup_generations`.
 *
 * The manifest is authenticated with an HMAC under a key derived from the generation's data key,
 * so whoever can restore a generation can also tell that its manifest was not edited (a changed
 * count or checksum would otherwise let damage pass the restore test).
 */
export const MANIFEST_FORMAT = 1;

export interface TableEntry {
  name: string;
  /** Columns copied, in order (generated columns are left out: PostgreSQL computes them again). */
  columns: string[];
  /** The rows are copied in this order (the primary key), so the checksum is reproducible. */
  orderBy: string[];
  rows: number;
  /** SHA-256 of the table's `COPY … (FORMAT binary)` bytes, before compression and encryption. */
  sha256: string;
  /**
   * How the COPY bytes were compressed before sealing. Absent in generations written before
   * 2026-12-04, which are gzip; newer ones are zstd (level 1: faster than gzip's level 1 and
   * smaller, measured in README: Backups).
   */
  compression?: Compression;
  object: { key: string; bytes: number; sha256: string };
}

export type Compression = 'gzip' | 'zstd';

export interface ManifestBody {
  format: typeof MANIFEST_FORMAT;
  id: string;
  startedAt: string;
  finishedAt: string;
  postgresVersion: string;
  latestMigration: string;
  key: { provider: 'local' | 'kms'; masterKeyId: string; wrapped: string };
  tables: TableEntry[];
  sequences: Array<{ name: string; lastValue: string; isCalled: boolean }>;
}

export interface Manifest extends ManifestBody {
  mac: string;
}

export const generationPrefix = (id: string) => `generations/${id}/`;
export const manifestKey = (id: string) => `generations/${id}/manifest`;
/** Object keys allow [a-z0-9/-] only: the table's position keeps names unique after `_` → `-`. */
export const tableObjectKey = (id: string, index: number, table: string) =>
  `generations/${id}/tables/${String(index).padStart(3, '0')}-${table.replace(/_/g, '-')}`;

/** Associated data of a table object: a sealed object moved to another generation or table does not open. */
export const objectAad = (generationId: string, table: string) => Buffer.from(`forclinic/backup/v1/${generationId}/${table}`, 'utf8');

/** The key-provider scope and purpose of backup data keys (the platform, not a clinic). */
export const BACKUP_KEY_PURPOSE = 'backup';

const macKey = (dataKey: Buffer, id: string) => Buffer.from(hkdfSync('sha256', dataKey, Buffer.from(id), Buffer.from('forclinic/backup/manifest'), 32));

const mac = (dataKey: Buffer, body: ManifestBody) => createHmac('sha256', macKey(dataKey, body.id)).update(JSON.stringify(body)).digest('hex');

export function sealManifest(dataKey: Buffer, body: ManifestBody): string {
  return JSON.stringify({ ...body, mac: mac(dataKey, body) }, null, 1);
}

/** The manifest's text as stored; its fields keep their written order, which the MAC covers. */
export function parseManifest(text: string): Manifest {
  const m = JSON.parse(text) as Manifest;
  if (m.format !== MANIFEST_FORMAT || typeof m.mac !== 'string' || !Array.isArray(m.tables)) throw new Error('not a backup manifest of a known format');
  return m;
}

export function manifestAuthentic(dataKey: Buffer, m: Manifest): boolean {
  const { mac: given, ...body } = m;
  const expected = Buffer.from(mac(dataKey, body), 'hex');
  const actual = Buffer.from(given, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
