import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { recordAudit } from '../../db/audit';
import { findFile, listFiles as listFileRows } from '../../db/processes';
import { withTenant } from '../../db/tenant-scope';
import { decodeCursor, encodeCursor } from '../../domain/pagination';
import type { ProcessFile } from '../../domain/process';
import { notFound, Problem } from '../../domain/problems';
import { CiphertextIntegrityError } from '../../lib/crypto/aead';
import type { ObjectStore } from '../../lib/storage/object-store';
import type { ClinicActor, Services } from '../deps';
import { enterProcess } from './access';
import { fileContentContext, openFile } from './process-record';

/**
 * An area's files (names opened after the transaction): all of them, or with `limit` a page and
 * the cursor of the next (400 invalid_cursor for one that is not ours).
 */
export async function listFiles(
  deps: Pick<Services, 'db' | 'vault'>,
  actor: ClinicActor,
  processId: string,
  page: { limit?: number; cursor?: string } = {},
): Promise<{ items: ProcessFile[]; nextCursor: string | null }> {
  const after = decodeCursor(page.cursor);
  const { rows, next } = await withTenant(deps.db, actor.tenantId, async (trx) => {
    await enterProcess(trx, actor, processId, 'read');
    return listFileRows(trx, processId, page.limit === undefined ? undefined : { limit: page.limit, after });
  });
  return { items: await Promise.all(rows.map((row) => openFile(deps.vault, row))), nextCursor: next && encodeCursor(next) };
}

/** A stored file that no longer opens: the service's fault, said plainly (the log names the file for the operators). */
const fileUnreadable = () => new Problem(500, 'file_unreadable', 'Internal Server Error', 'This file is damaged in storage and cannot be read. The service\'s log names it for the operators; quote the request id when contacting support.');

export interface Download extends ProcessFile {
  /** The decrypted contents; fails mid-stream if the stored object was tampered with or cut. */
  content: Readable;
}

/**
 * A download: the row is read and the read logged in one short transaction; the name and the
 * contents are decrypted after commit, the contents streamed from object storage.
 */
export async function downloadFile(
  deps: Pick<Services, 'db' | 'vault' | 'log'> & { storage: ObjectStore },
  actor: ClinicActor,
  processId: string,
  fileId: string,
): Promise<Download> {
  const row = await withTenant(deps.db, actor.tenantId, async (trx) => {
    await enterProcess(trx, actor, processId, 'read', 'No such file.');
    const found = await findFile(trx, processId, fileId);
    if (!found) throw notFound('No such file.');
    await recordAudit(trx, actor.audit, { action: 'file.read', outcome: 'success', targetType: 'file', targetId: found.id, details: { processId } });
    return found;
  });
  const file = await openFile(deps.vault, row);
  const decrypt = await deps.vault.decryptStream(actor.tenantId, fileContentContext(row.id));
  const source = await deps.storage.get(row.storageKey);
  const content = new PassThrough();
  void pipeline(source, decrypt, content).catch((err) => {
    deps.log.error({ err: (err as Error).message, fileId: row.id }, 'file download failed (tampered or missing object?)');
    content.destroy(err as Error);
  });
  // The first segment (a small file whole) opens before anything is answered: a file damaged in
  // storage is a problem answer, not a 200 whose body breaks off. Damage further into a large
  // file still cuts the body off, so a client never takes a broken file for a whole one.
  try {
    await once(content, 'readable');
  } catch (err) {
    throw err instanceof CiphertextIntegrityError ? fileUnreadable() : err;
  }
  return { ...file, content };
}
