import { Readable, PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { backupRoleProblems, beginSnapshot, copyOut, countRows, openSnapshot } from '../../db/backup-snapshot';
import { NO_CLINIC } from '../../domain/ids';
import { sealStream } from '../crypto/aead';
import type { KeyProvider } from '../crypto/key-provider';
import type { BackupStore } from '../storage/backup-store';
import type { ObjectLock } from '../storage/object-store';
import { BACKUP_KEY_PURPOSE, generationPrefix, manifestKey, objectAad, sealManifest, tableObjectKey, type Manifest, type ManifestBody, type TableEntry } from './manifest';
import { batch, measure } from './streams';

export interface BackupWriterDeps {
  store: BackupStore;
  provider: KeyProvider;
  /** The backup role's URL (BACKUP_DATABASE_URL). */
  backupUrl: string;
  /** The platform backup master key's version new generations use. */
  keyVersion: number;
  /** S3 Object Lock for every object of the generation (lib/backup/object-lock.ts), when the bucket has it. */
  lock?: ObjectLock;
}

/** A setting that no retry cures: the workflow fails at once and mails the operators. */
export class BackupMisconfigured extends Error {
  override name = 'BackupMisconfigured';
}

/**
 * Writes generation `id`: one object per table — the table's binary COPY, gzip-compressed, then
 * sealed with AES-256-GCM in 64 KiB authenticated segments (lib/crypto/aead.ts, the files'
 * format: a key of its own per object derived from the generation's data key, bound to the
 * generation and table) — and last the manifest. Everything streams: memory holds a few
 * segments and compression windows, whatever the database's size.
 *
 * A retry starts over: it first removes whatever an interrupted attempt left under the
 * generation's prefix, and the generation is only marked written (by the caller) once the
 * manifest, the last object, is stored.
 */
export async function writeGeneration(deps: BackupWriterDeps, id: string, onProgress: (bytes: number) => void): Promise<Manifest> {
  const startedAt = new Date().toISOString();
  // Key service calls first, with no database transaction open.
  const masterKeyId = await deps.provider.createMasterKey(NO_CLINIC, deps.keyVersion);
  const { plaintext: dataKey, wrapped } = await deps.provider.generateDataKey(NO_CLINIC, masterKeyId, BACKUP_KEY_PURPOSE);
  await deps.store.deletePrefix(generationPrefix(id));

  const client = await openSnapshot(deps.backupUrl);
  let body: ManifestBody;
  try {
    const problems = await backupRoleProblems(client);
    if (problems.length) throw new BackupMisconfigured(`BACKUP_DATABASE_URL logs in as a role unfit for backups: ${problems.slice(0, 5).join('; ')}`);
    const snapshot = await beginSnapshot(client);
    const tables: TableEntry[] = [];
    for (const [index, table] of snapshot.tables.entries()) {
      const rows = await countRows(client, table.name);
      const plain = measure(onProgress);
      const sealed = measure();
      const out = new PassThrough();
      const key = tableObjectKey(id, index, table.name);
      const written = pipeline(copyOut(client, table), batch(), plain, createGzip({ level: 1 }), sealStream(dataKey, objectAad(id, table.name)), sealed, out);
      const [stored] = await Promise.all([deps.store.put(key, out, { lock: deps.lock }), written]);
      tables.push({ ...table, rows, sha256: plain.sha256(), object: { key, bytes: stored.bytes || sealed.bytes(), sha256: sealed.sha256() } });
    }
    await client.query('commit');
    body = {
      format: 1,
      id,
      startedAt,
      finishedAt: new Date().toISOString(),
      postgresVersion: snapshot.postgresVersion,
      latestMigration: snapshot.latestMigration,
      key: { provider: deps.provider.kind, masterKeyId, wrapped: wrapped.toString('base64') },
      tables,
      sequences: snapshot.sequences,
    };
  } finally {
    await client.end().catch(() => undefined);
  }
  const text = sealManifest(dataKey, body);
  await deps.store.put(manifestKey(id), Readable.from([Buffer.from(text, 'utf8')]), { lock: deps.lock });
  return JSON.parse(text) as Manifest;
}
