import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { CopyToStreamQuery } from 'pg-copy-streams';
import { finished, pipeline } from 'node:stream/promises';
import { backupRoleProblems, beginSnapshot, copiedRows, copyOut, openSnapshot } from '../../db/backup-snapshot';
import { NO_CLINIC } from '../../domain/ids';
import { sealStream } from '../crypto/aead';
import type { KeyProvider } from '../crypto/key-provider';
import type { BackupStore } from '../storage/backup-store';
import type { ObjectLock } from '../storage/object-store';
import { BACKUP_KEY_PURPOSE, type Compression, generationPrefix, manifestKey, objectAad, sealManifest, tableObjectKey, type Manifest, type ManifestBody, type TableEntry } from './manifest';
import { compressor, WRITE_COMPRESSION } from './compression';
import { generationScratch } from './scratch';
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
  /** Only for tests that need a generation as older versions wrote it (gzip); the default is WRITE_COMPRESSION. */
  compression?: Compression;
}

/** Table pipelines whose tails may still run while the next table's COPY streams. */
const PIPELINES_IN_FLIGHT = 4;
/** Objects uploaded at the same time after the snapshot. */
const UPLOADS_IN_FLIGHT = 4;

/** A setting that no retry cures: the workflow fails at once and mails the operators. */
export class BackupMisconfigured extends Error {
  override name = 'BackupMisconfigured';
}

/**
 * Writes generation `id`: one object per table — the table's binary COPY, zstd-compressed, then
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
  const compression = deps.compression ?? WRITE_COMPRESSION;
  // Key service calls first, with no database transaction open.
  const masterKeyId = await deps.provider.createMasterKey(NO_CLINIC, deps.keyVersion);
  const { plaintext: dataKey, wrapped } = await deps.provider.generateDataKey(NO_CLINIC, masterKeyId, BACKUP_KEY_PURPOSE);
  await deps.store.deletePrefix(generationPrefix(id));

  // Inside the snapshot each table goes, already sealed, to a local scratch file; the store is
  // called only after COMMIT. A slow or unreachable S3 then never holds the snapshot open (a long
  // snapshot holds back VACUUM on every table), and no transaction is open during an upload.
  const scratch = await generationScratch(id);
  try {
    const client = await openSnapshot(deps.backupUrl);
    let body: ManifestBody;
    const files: string[] = [];
    try {
      const problems = await backupRoleProblems(client);
      if (problems.length) throw new BackupMisconfigured(`BACKUP_DATABASE_URL logs in as a role unfit for backups: ${problems.slice(0, 5).join('; ')}`);
      const snapshot = await beginSnapshot(client);
      const tables: TableEntry[] = [];
      const copies: Array<{ copy: CopyToStreamQuery; plain: ReturnType<typeof measure> }> = [];
      // The connection is needed only while a table's COPY streams; the tail of its pipeline
      // (the compressor's last block, the last sealed segment, closing the scratch file) overlaps
      // the next table's COPY. A handful in flight at most: each holds a compressor's window.
      const tails = new Set<Promise<void>>();
      const failed: unknown[] = [];
      for (const [index, table] of snapshot.tables.entries()) {
        if (failed.length) break;
        if (tails.size >= PIPELINES_IN_FLIGHT) await Promise.race(tails);
        const plain = measure(onProgress);
        const sealed = measure();
        const key = tableObjectKey(id, index, table.name);
        const file = path.join(scratch, String(index));
        files[index] = file;
        const copy = copyOut(client, table);
        copies[index] = { copy, plain };
        const tail: Promise<void> = pipeline(copy, batch(), plain, compressor(compression), sealStream(dataKey, objectAad(id, table.name)), sealed, createWriteStream(file, { mode: 0o600 }))
          .then(() => {
            tables[index] = { ...table, rows: 0, sha256: plain.sha256(), compression, object: { key, bytes: sealed.bytes(), sha256: sealed.sha256() } };
          })
          .catch((err: unknown) => void failed.push(err))
          .finally(() => tails.delete(tail));
        tails.add(tail);
        // The next COPY may go once this one's rows have all been read off the connection.
        await finished(copy).catch(() => undefined);
      }
      await Promise.all(tails);
      if (failed.length) throw failed[0];
      await client.query('commit');
      // Row counts are the ones COPY itself reports, from the same snapshot (a separate count(*)
      // read every table a second time); COMMIT has answered, so every report has been seen.
      for (const [i, { copy, plain }] of copies.entries()) tables[i]!.rows = copiedRows(copy, plain.bytes(), tables[i]!.name);
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
    // The snapshot is over: now the objects go to the store (heartbeats go on while they upload),
    // a few at a time: most tables are small, and each put is a round trip (S3) or a file's
    // create, write and rename (folder).
    const queue = [...body.tables.entries()];
    const uploader = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [i, table] = next;
        const upload = measure(() => onProgress(0));
        // A read error destroys `upload`, which fails the put; the pipeline's own rejection is that same error.
        pipeline(createReadStream(files[i]!), upload).catch(() => undefined);
        await deps.store.put(table.object.key, upload, { lock: deps.lock });
      }
    };
    await Promise.all(Array.from({ length: UPLOADS_IN_FLIGHT }, uploader));
    const text = sealManifest(dataKey, body);
    await deps.store.put(manifestKey(id), Readable.from([Buffer.from(text, 'utf8')]), { lock: deps.lock });
    return JSON.parse(text) as Manifest;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

