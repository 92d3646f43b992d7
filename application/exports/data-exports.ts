import { randomUUID } from 'node:crypto';
import { recordAudit } from '../../db/audit';
import { findExport, insertRunningExport, listExports, type ExportRow } from '../../db/data-exports';
import { withTenant } from '../../db/tenant-scope';
import type { ExportProgress } from '../../domain/data-export';
import { isUuid } from '../../domain/ids';
import { decodeCursor, encodeCursor } from '../../domain/pagination';
import { conflict, notFound } from '../../domain/problems';
import { TENANT_ID } from '../../temporal/search-attributes';
import { dataExportWorkflowId } from '../../temporal/workflow-ids';
import { exportProgressQuery } from '../../workflows/data-export-messages';
import type { DataExportInput } from '../../workflows/data-export';
import { commitThenDispatch } from '../commit-then-dispatch';
import type { ClinicActor, Services } from '../deps';

/**
 * A clinic's full data export (README: Data export). Asking for one is one transaction — the
 * row, the operation-log entry and the workflow start (outbox) commit together — and the start
 * is sent after commit; the workflow does the work. One export runs at a time per clinic: the
 * database refuses a second running row (409 export_running).
 */
export interface DataExportView {
  id: string;
  state: ExportRow['state'];
  requestedBy: string | null;
  createdAt: string;
  readyAt: string | null;
  expiresAt: string | null;
  expiredAt: string | null;
  failedAt: string | null;
  sizeBytes: number | null;
  sha256: string | null;
  progress: ExportProgress | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** What the row alone says about progress (the workflow has ended or does not answer). */
function progressFromRow(row: ExportRow): ExportProgress | null {
  const s = row.summary;
  if (!s) return null;
  const rows = s.tables.reduce((n, t) => n + t.rows, 0);
  return {
    phase: row.state === 'running' ? 'archive' : row.state,
    tablesDone: s.tables.length,
    tablesTotal: s.tables.length,
    rows,
    bytes: row.sizeBytes === null ? 0 : Number(row.sizeBytes),
    patientsDone: s.patients,
    patientsTotal: s.patients,
    filesTotal: s.files,
  };
}

function view(row: ExportRow, live: ExportProgress | null): DataExportView {
  return {
    id: row.id,
    state: row.state,
    requestedBy: row.requestedBy,
    createdAt: row.createdAt.toISOString(),
    readyAt: iso(row.readyAt),
    expiresAt: iso(row.expiresAt),
    expiredAt: iso(row.expiredAt),
    failedAt: iso(row.failedAt),
    sizeBytes: row.sizeBytes === null ? null : Number(row.sizeBytes),
    sha256: row.sha256,
    progress: live ?? progressFromRow(row),
  };
}

export async function startDataExport(
  deps: Pick<Services, 'db' | 'outbox'> & { dataExports: { retentionSeconds: number } },
  actor: ClinicActor,
): Promise<{ id: string }> {
  const id = randomUUID();
  const workflowId = dataExportWorkflowId(id);
  return commitThenDispatch(deps, actor.tenantId, async (trx, enqueue) => {
    const row = await insertRunningExport(trx, { id, tenantId: actor.tenantId, workflowId, requestedBy: actor.accountId });
    if (row === 'busy') throw conflict('export_running', 'An export of this clinic is running; wait for it to finish (GET /v1/exports).');
    const input: DataExportInput = { tenantId: actor.tenantId, exportId: id, createdAt: row.createdAt.toISOString(), retentionSeconds: deps.dataExports.retentionSeconds };
    await enqueue({ kind: 'start', workflowId, workflowType: 'dataExportWorkflow', args: [input], searchAttributes: { [TENANT_ID.name]: actor.tenantId } });
    // Last: the log entry holds the clinic's chain lock until commit.
    await recordAudit(trx, actor.audit, { action: 'data_export.create', outcome: 'success', targetType: 'data_export', targetId: id, details: { retentionSeconds: deps.dataExports.retentionSeconds } });
    return { id };
  });
}

export async function listDataExports(deps: Pick<Services, 'db'>, actor: ClinicActor, page: { limit: number; cursor?: string }) {
  const before = decodeCursor(page.cursor);
  const rows = await withTenant(deps.db, actor.tenantId, (trx) => listExports(trx, { limit: page.limit + 1, before }));
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  return {
    items: items.map((r) => view(r, null)),
    nextCursor: rows.length > page.limit && last ? encodeCursor({ createdAt: last.cursor_ts, id: last.id }) : null,
  };
}

/** A live view waits this long for the workflow's answer; without one the row still answers. */
const QUERY_DEADLINE_MS = 2_000;

export async function getDataExport(deps: Pick<Services, 'db' | 'temporal'>, actor: ClinicActor, id: string): Promise<DataExportView> {
  const row = isUuid(id) ? await withTenant(deps.db, actor.tenantId, (trx) => findExport(trx, id)) : undefined;
  if (!row) throw notFound('No such export.');
  let live: ExportProgress | null = null;
  if (row.state === 'running') {
    live = await deps.temporal.connection
      .withDeadline(Date.now() + QUERY_DEADLINE_MS, () => deps.temporal.client.workflow.getHandle(row.workflowId).query(exportProgressQuery))
      .catch(() => null);
  }
  return view(row, live);
}
