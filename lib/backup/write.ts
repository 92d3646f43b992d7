import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
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
 * segments and compression windows, whatever the database's size; the sealed objects wait in a
 * local scratch folder between the snapshot and the upload (disk: the generation's stored size).
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

  // Inside the snapshot each table goes, already sealed, to a local scratch file; the store is
  // called only after COMMIT. A slow or unreachable S3 then never holds the snapshot open (a long
  // snapshot holds back VACUUM on every table), and no transaction is open during an upload.
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'forclinic-backup-'));
  try {
    const client = await openSnapshot(deps.backupUrl);
    let body: ManifestBody;
    const files: string[] = [];
    try {
      const problems = await backupRoleProblems(client);
      if (problems.length) throw new BackupMisconfigured(`BACKUP_DATABASE_URL logs in as a role unfit for backups: ${problems.slice(0, 5).join('; ')}`);
      const snapshot = await beginSnapshot(client);
      const tables: TableEntry[] = [];
      for (const [index, table] of snapshot.tables.entries()) {
        const rows = await countRows(client, table.name);
        const plain = measure(onProgress);
        const sealed = measure();
        const key = tableObjectKey(id, index, table.name);
        const file = path.join(scratch, String(index));
        await pipeline(copyOut(client, table), batch(), plain, createGzip({ level: 1 }), sealStream(dataKey, objectAad(id, table.name)), sealed, createWriteStream(file, { mode: 0o600 }));
        files.push(file);
        tables.push({ ...table, rows, sha256: plain.sha256(), object: { key, bytes: sealed.bytes(), sha256: sealed.sha256() } });
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
    // The snapshot is over: now the objects go to the store (heartbeats go on while they upload).
    for (const [i, table] of body.tables.entries()) {
      const upload = measure(() => onProgress(0));
      // A read error destroys `upload`, which fails the put; the pipeline's own rejection is that same error.
      pipeline(createReadStream(files[i]!), upload).catch(() => undefined);
      await deps.store.put(table.object.key, upload, { lock: deps.lock });
    }
    const text = sealManifest(dataKey, body);
    await deps.store.put(manifestKey(id), Readable.from([Buffer.from(text, 'utf8')]), { lock: deps.lock });
    return JSON.parse(text) as Manifest;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

