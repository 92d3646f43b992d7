import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NO_CLINIC } from '../../domain/ids';
import { openStream } from '../crypto/aead';
import type { KeyProvider } from '../crypto/key-provider';
import type { BackupStore } from '../storage/backup-store';
import { decompressor } from './compression';
import { BACKUP_KEY_PURPOSE, manifestAuthentic, manifestKey, objectAad, parseManifest, type Manifest, type TableEntry } from './manifest';
import { measure } from './streams';

export interface VerificationProblem {
  object: string;
  problem: 'missing' | 'size' | 'sha256' | 'not_authentic' | 'content' | 'manifest_mismatch';
  detail?: string;
}

export async function readText(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The stored manifest and the generation's data key, with the manifest's MAC checked. */
export async function openGeneration(store: BackupStore, provider: KeyProvider, id: string): Promise<{ manifest: Manifest; dataKey: Buffer }> {
  const manifest = parseManifest(await readText(await store.get(manifestKey(id))));
  if (manifest.id !== id) throw new Error(`the manifest under ${id} names generation ${manifest.id}`);
  const dataKey = await provider.unwrapDataKey(NO_CLINIC, manifest.key.masterKeyId, BACKUP_KEY_PURPOSE, Buffer.from(manifest.key.wrapped, 'base64'));
  if (!manifestAuthentic(dataKey, manifest)) throw new Error('the manifest does not authenticate: it was changed after the backup');
  return { manifest, dataKey };
}

/**
 * Reads one table object end to end: its SHA-256 and size against the manifest, then decrypts
 * it (every segment authenticated) and decompresses it, and compares the content's checksum.
 * `into` receives the verified plaintext (the restore's COPY FROM); by default it is discarded.
 */
export async function readTableObject(
  store: BackupStore,
  dataKey: Buffer,
  generationId: string,
  t: TableEntry,
  opts: { into?: NodeJS.WritableStream; onBytes?: (n: number) => void } = {},
): Promise<VerificationProblem[]> {
  const key = t.object.key;
  let source: Readable;
  try {
    source = await store.get(key);
  } catch (err) {
    return [{ object: key, problem: 'missing', detail: (err as Error).name }];
  }
  const sealed = measure(opts.onBytes);
  const plain = measure();
  const sink = opts.into ?? new Writable({ write: (_c, _e, cb) => cb() });
  try {
    await pipeline(source, sealed, openStream(dataKey, objectAad(generationId, t.name)), decompressor(t), plain, sink as Writable);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' || e.name === 'NoSuchKey') return [{ object: key, problem: 'missing' }];
    // Reading stopped at the first segment that did not authenticate: hash the whole stored
    // object again to tell a changed object (size, SHA-256) from a wrong key or manifest.
    const whole = measure();
    const problems: VerificationProblem[] = [];
    try {
      await pipeline(await store.get(key), whole, new Writable({ write: (_c, _e, cb) => cb() }));
      if (whole.bytes() !== t.object.bytes) problems.push({ object: key, problem: 'size', detail: `${whole.bytes()} bytes, ${t.object.bytes} expected` });
      if (whole.sha256() !== t.object.sha256) problems.push({ object: key, problem: 'sha256' });
    } catch {
      problems.push({ object: key, problem: 'missing' });
    }
    problems.push({ object: key, problem: 'not_authentic', detail: e.message.slice(0, 200) });
    return problems;
  }
  const problems: VerificationProblem[] = [];
  if (sealed.bytes() !== t.object.bytes) problems.push({ object: key, problem: 'size', detail: `${sealed.bytes()} bytes, ${t.object.bytes} expected` });
  if (sealed.sha256() !== t.object.sha256) problems.push({ object: key, problem: 'sha256' });
  if (plain.sha256() !== t.sha256) problems.push({ object: key, problem: 'content' });
  return problems;
}

/**
 * The daily check of a stored generation: the manifest is there and authentic (and the same as
 * the one recorded in the database), every object is present with the size and SHA-256 the
 * manifest gives, decrypts (authenticated) and decompresses to the recorded content checksum.
 */
export async function verifyGeneration(
  store: BackupStore,
  provider: KeyProvider,
  id: string,
  recorded: Manifest | null,
  onBytes?: (n: number) => void,
): Promise<{ ok: boolean; problems: VerificationProblem[] }> {
  let opened: { manifest: Manifest; dataKey: Buffer };
  try {
    opened = await openGeneration(store, provider, id);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const missing = e.code === 'ENOENT' || e.name === 'NoSuchKey';
    return { ok: false, problems: [{ object: manifestKey(id), problem: missing ? 'missing' : 'not_authentic', detail: e.message.slice(0, 200) }] };
  }
  const problems: VerificationProblem[] = [];
  if (recorded && recorded.mac !== opened.manifest.mac) problems.push({ object: manifestKey(id), problem: 'manifest_mismatch', detail: 'differs from the manifest recorded in the database' });
  for (const t of opened.manifest.tables) problems.push(...(await readTableObject(store, opened.dataKey, id, t, { onBytes })));
  return { ok: problems.length === 0, problems };
}
