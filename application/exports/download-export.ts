import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { recordAudit } from '../../db/audit';
import { findExport } from '../../db/data-exports';
import { withTenant } from '../../db/tenant-scope';
import { exportArchiveContext } from '../../domain/data-export';
import { isUuid } from '../../domain/ids';
import { japanDateOf } from '../../domain/japan-time';
import { conflict, gone, notFound } from '../../domain/problems';
import type { ObjectStore } from '../../lib/storage/object-store';
import type { ClinicActor, Services } from '../deps';

export interface ExportDownload {
  fileName: string;
  sizeBytes: number;
  sha256: string;
  /** The archive, decrypted on the way out; fails mid-stream if the stored object was altered. Absent for a HEAD. */
  content?: Readable;
}

/**
 * The archive of a ready export, for the clinic's admins. The row is checked and the download
 * logged in one short transaction; the object is read and decrypted after commit, as a stream.
 * Not ready yet: 409 export_not_ready; failed: 409 export_failed; past its retention (even if the
 * workflow has not deleted it yet): 410 export_expired. `headOnly` (a HEAD request) answers the
 * same checks and headers without reading the archive, and logs nothing: nothing was downloaded.
 */
export async function downloadDataExport(
  deps: Pick<Services, 'db' | 'vault' | 'log'> & { storage: ObjectStore },
  actor: ClinicActor,
  id: string,
  opts: { headOnly?: boolean } = {},
): Promise<ExportDownload> {
  const row = isUuid(id)
    ? await withTenant(deps.db, actor.tenantId, async (trx) => {
        const found = await findExport(trx, id);
        if (!found) return undefined;
        if (found.state === 'running') throw conflict('export_not_ready', 'The export is still being made; see its progress at GET /v1/exports/{id}.');
        if (found.state === 'failed') throw conflict('export_failed', 'The export failed; start a new one.');
        if (found.state === 'expired' || (found.expiresAt && found.expiresAt.getTime() <= Date.now())) throw gone('export_expired', 'The export was deleted after its retention time; start a new one.');
        if (!opts.headOnly) await recordAudit(trx, actor.audit, { action: 'data_export.download', outcome: 'success', targetType: 'data_export', targetId: found.id, details: { bytes: Number(found.sizeBytes) } });
        return found;
      })
    : undefined;
  if (!row) throw notFound('No such export.');
  // The day the export was asked for, in Japan (the clinic's day; the archive's times are UTC).
  const day = japanDateOf(row.createdAt).replace(/-/g, '');
  const fileName = `forclinic-export-${day}-${row.id.slice(0, 8)}.zip`;
  if (opts.headOnly) return { fileName, sizeBytes: Number(row.sizeBytes), sha256: row.sha256! };
  const decrypt = await deps.vault.decryptStream(actor.tenantId, exportArchiveContext(row.id));
  const source = await deps.storage.get(row.objectKey!);
  const content = new PassThrough();
  void pipeline(source, decrypt, content).catch((err) => {
    deps.log.error({ err: (err as Error).message, exportId: row.id }, 'export download failed (tampered or missing object?)');
    content.destroy(err as Error);
  });
  return { fileName, sizeBytes: Number(row.sizeBytes), sha256: row.sha256!, content };
}
