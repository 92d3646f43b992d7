import { PassThrough, Readable } from 'node:stream';
import { AUDIT_CSV_COLUMNS, boundExportTransaction, copyAuditCsv, recordAudit } from '../../db/audit';
import { tooManyRequests } from '../../domain/problems';
import type { ExportSlots } from '../../lib/export-slots';
import { withTenant } from '../../db/tenant-scope';
import { resolveAuditFilter, type AuditFilterQuery, type AuditWindowLimits } from '../../domain/audit-query';
import type { ClinicActor, Services } from '../deps';

/**
 * The operation log as CSV (UTF-8 with BOM for Excel, RFC 4180, CRLF), oldest first. The export
 * is logged first, in its own committed transaction; then the rows stream from PostgreSQL's COPY
 * inside a second one that stays open until the last row is out. The stream is returned at once
 * so the caller can start sending; a failure or a reader that goes away ends it early.
 */
export async function exportAuditLog(
  deps: Pick<Services, 'db' | 'log'> & { exports: ExportSlots },
  actor: ClinicActor,
  query: AuditFilterQuery,
  limits: AuditWindowLimits,
  opts: { headOnly?: boolean } = {},
): Promise<Readable> {
  const filter = resolveAuditFilter(query, limits);
  // A HEAD request (a download manager asking about the file) gets the headers of the same
  // answer: the filter is checked, but no rows are read and nothing was exported, so nothing is logged.
  if (opts.headOnly) return Readable.from([]);
  const release = deps.exports.tryAcquire(actor.tenantId);
  if (!release) throw tooManyRequests('rate_limited', 'An export is already running (for this clinic, or as many as the service allows at once). Retry shortly.', RETRY_AFTER_SECONDS);
  try {
    await withTenant(deps.db, actor.tenantId, (trx) =>
      recordAudit(trx, actor.audit, { action: 'audit_log.export', outcome: 'success', details: { filter: query } }),
    );
  } catch (err) {
    release();
    throw err;
  }
  const csv = new PassThrough();
  csv.write(`\uFEFF${AUDIT_CSV_COLUMNS.join(',')}\r\n`);
  withTenant(deps.db, actor.tenantId, async (trx) => {
    // A reader that stalls cannot hold the connection for ever.
    await boundExportTransaction(trx);
    await copyAuditCsv(trx, filter, csv, { end: false });
  })
    // The export's slot is free before its client sees the end: a client that starts the next
    // export the moment one finishes is not refused 429 by an export that is already over.
    .then(() => {
      release();
      csv.end();
    })
    .catch((err: Error) => {
      deps.log.warn({ err: err.message, requestId: actor.audit.requestId }, 'audit log export ended early');
      csv.destroy(err);
    })
    .finally(release);
  return csv;
}

const RETRY_AFTER_SECONDS = 30;
