import { randomUUID } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { recordAudit } from '../../db/audit';
import { insertFile } from '../../db/processes';
import { withTenant } from '../../db/tenant-scope';
import { assertAllowedType, assertDeclaredSize, normaliseContentType, uploadGuard, validFileName } from '../../domain/files';
import type { ProcessFile } from '../../domain/process';
import type { ObjectStore } from '../../lib/storage/object-store';
import type { ClinicActor, Services } from '../deps';
import { enterProcess } from './access';
import { fileContentContext, openFile, sealFileName } from './process-record';

export interface Upload {
  processId: string;
  /** The display name the client gave (?name=). */
  name: string | undefined;
  /** The Content-Type header as sent. */
  contentType: string | undefined;
  /** The Content-Length header, 0 when absent (chunked). */
  declaredBytes: number;
  body: Readable;
}

/**
 * A file into a process area (the `write` right). Checked before a byte is read (declared size,
 * type, name, right), then streamed through the size and type checks and the cipher into object
 * storage with no transaction open; only then is the row written, with its log entry, in a short
 * transaction that checks the right and the contract again. An object whose row was never written is deleted.
 */
export async function uploadFile(
  deps: Pick<Services, 'db' | 'vault'> & { storage: ObjectStore; files: { maxBytes: number } },
  actor: ClinicActor,
  upload: Upload,
): Promise<ProcessFile> {
  const { tenantId } = actor;
  const limit = deps.files.maxBytes;
  assertDeclaredSize(upload.declaredBytes, limit);
  const contentType = normaliseContentType(upload.contentType);
  assertAllowedType(contentType);
  const name = validFileName(upload.name);
  await withTenant(deps.db, tenantId, (trx) => enterProcess(trx, actor, upload.processId, 'write'));

  const fileId = randomUUID();
  const storageKey = `tenants/${tenantId}/files/${fileId}`;
  const nameSealed = await sealFileName(deps.vault, tenantId, fileId, name);
  const encrypt = await deps.vault.encryptStream(tenantId, fileContentContext(fileId));
  const guard = uploadGuard(limit, contentType);
  const encrypted = new PassThrough();
  const [read, stored] = await Promise.allSettled([pipeline(upload.body, guard.stream, encrypt, encrypted), deps.storage.put(storageKey, encrypted)]);
  let row;
  try {
    if (read.status === 'rejected') throw read.reason;
    if (stored.status === 'rejected') throw stored.reason;
    const sizeBytes = guard.bytes();
    // The upload may have taken minutes: the clinic is re-read as this transaction begins (asClinicWrite).
    row = await withTenant(deps.db, tenantId, async (trx) => {
      await enterProcess(trx, actor, upload.processId, 'write');
      const created = await insertFile(trx, {
        id: fileId, processId: upload.processId, nameSealed, contentType, sizeBytes, storedBytes: stored.value.bytes, storageKey, createdBy: actor.accountId,
      });
      await recordAudit(trx, actor.audit, { action: 'file.upload', outcome: 'success', targetType: 'file', targetId: fileId, details: { processId: upload.processId, contentType, bytes: sizeBytes } });
      return created;
    });
  } catch (err) {
    await deps.storage.delete(storageKey).catch(() => undefined);
    throw err;
  }
  return openFile(deps.vault, row);
}
