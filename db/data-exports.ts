import { CURSOR_TS_SQL, type Keyset } from '../domain/pagination';
import type { TenantTransaction } from './tenant-scope';

/** Data access for data_exports (db/migrations/20270105000001_data_exports.ts). */
export type ExportState = 'running' | 'ready' | 'failed' | 'expired';

export interface ExportSummary {
  tables: Array<{ name: string; rows: number }>;
  patients: number;
  files: number;
  entries: number;
}

export interface ExportRow {
  id: string;
  tenantId: string;
  workflowId: string;
  state: ExportState;
  requestedBy: string | null;
  createdAt: Date;
  readyAt: Date | null;
  expiresAt: Date | null;
  expiredAt: Date | null;
  failedAt: Date | null;
  error: string | null;
  objectKey: string | null;
  sizeBytes: string | null;
  sha256: string | null;
  summary: ExportSummary | null;
}

const COLUMNS = `id, tenant_id as "tenantId", workflow_id as "workflowId", state, requested_by as "requestedBy", created_at as "createdAt",
  ready_at as "readyAt", expires_at as "expiresAt", expired_at as "expiredAt", failed_at as "failedAt", error,
  object_key as "objectKey", size_bytes::text as "sizeBytes", sha256, summary`;

/** 'busy' when the clinic has an export running (the partial unique index decides races). */
export async function insertRunningExport(trx: TenantTransaction, row: { id: string; tenantId: string; workflowId: string; requestedBy: string }): Promise<ExportRow | 'busy'> {
  const { rows } = await trx.raw(
    `insert into data_exports (id, tenant_id, workflow_id, state, requested_by) values (?, ?, ?, 'running', ?)
     on conflict (tenant_id) where state = 'running' do nothing returning ${COLUMNS}`,
    [row.id, row.tenantId, row.workflowId, row.requestedBy],
  );
  return (rows[0] as ExportRow | undefined) ?? 'busy';
}

/** The workflows of the clinic's exports still being built (at most one: one at a time per clinic). */
export async function runningExportWorkflows(trx: TenantTransaction): Promise<string[]> {
  return (await trx('data_exports').where({ state: 'running' }).pluck('workflow_id')) as string[];
}

export async function findExport(trx: TenantTransaction, id: string): Promise<ExportRow | undefined> {
  const { rows } = await trx.raw(`select ${COLUMNS} from data_exports where id = ?`, [id]);
  return rows[0] as ExportRow | undefined;
}

/** Newest first; keyset on (created_at, id) (domain/pagination.ts). */
export async function listExports(trx: TenantTransaction, opts: { limit: number; before?: Keyset }): Promise<Array<ExportRow & { cursor_ts: string }>> {
  const { rows } = await trx.raw(
    `select ${COLUMNS}, ${CURSOR_TS_SQL} from data_exports
      where (?::timestamptz is null or (created_at, id) < (?::timestamptz, ?::uuid))
      order by created_at desc, id desc limit ?`,
    [opts.before?.createdAt ?? null, opts.before?.createdAt ?? null, opts.before?.id ?? null, opts.limit],
  );
  return rows;
}

/**
 * The archive is stored: ready until `expires_at` (now + retention, by the database clock).
 * `changed` is false when a retry finds it ready already.
 */
export async function markExportReady(trx: TenantTransaction, id: string, done: { objectKey: string; sizeBytes: number; sha256: string; retentionSeconds: number; summary: ExportSummary }): Promise<{ row: ExportRow | undefined; changed: boolean }> {
    const { rows } = await trx.raw(
      `update data_exports set state = 'ready', ready_at = now(), expires_at = now() + make_interval(secs => ?),
         object_key = ?, size_bytes = ?, sha256 = ?, summary = ?
       where id = ? and state = 'running' returning ${COLUMNS}`,
      [done.retentionSeconds, done.objectKey, done.sizeBytes, done.sha256, JSON.stringify(done.summary), id],
    );
    if (rows[0]) return { row: rows[0] as ExportRow, changed: true };
    return { row: await findExport(trx, id), changed: false };
}

export async function markExportFailed(trx: TenantTransaction, id: string, error: string): Promise<boolean> {
  const n = await trx('data_exports').where({ id, state: 'running' }).update({ state: 'failed', failed_at: trx.fn.now(), error: error.slice(0, 1000) });
  return n > 0;
}

export async function markExportExpired(trx: TenantTransaction, id: string): Promise<boolean> {
  const n = await trx('data_exports').whereIn('state', ['ready', 'failed']).andWhere({ id }).update({ state: 'expired', expired_at: trx.fn.now() });
  return n > 0;
}
