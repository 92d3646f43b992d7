import { pipeline } from 'node:stream/promises';
import { escapeLiteral } from 'pg';
import type { Db } from './connection';
import { CsvCopyOut } from './copy-out';
import type { ActorType, AuditOutcome } from './models/audit-event';
import type { Knex } from 'knex';
import type { AuditFilter } from '../domain/audit-query';
import { FORMULA_LEAD_CODES } from '../domain/csv';
import { TenantScopeError, outsideClinicWrite, tenantIdOf, withTenant, type TenantTransaction } from './tenant-scope';

/**
 * The operation log (操作ログ). Entries are written through here only. The application's
 * database role may insert and read them, never change or delete them.
 * Details must never hold passwords, tokens or patient data in clear.
 */
export interface AuditContext {
  actorType: ActorType;
  actorId?: string | null;
  actorRoles?: string[];
  /**
   * The operator's display name (a person, an API key's name, or 'break-glass'). Clinic entries
   * carry it in details.actorName, so a clinic admin's CSV shows which person at the provider
   * acted; the platform log has a column for it.
   */
  actorName?: string | null;
  clientIp?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
}

export interface AuditEntry {
  action: string;
  outcome: AuditOutcome;
  targetType?: string;
  targetId?: string;
  details?: Record<string, unknown>;
}

export async function recordAudit(trx: TenantTransaction, context: AuditContext, entry: AuditEntry): Promise<void> {
  await recordAuditEntries(trx, [{ context, entry }]);
}

/**
 * Several entries in one statement, chained in the order given (the read log's group commits,
 * application/audit/read-log.ts). One plain parameterised insert: it runs on every audited
 * request, and building an objection model for a row nobody reads back cost about as much as the
 * insert itself. The chain trigger stamps time, seq and hash; row-level security checks the clinic
 * again. An operator's name goes into details (the clinic log's columns, and so its chain's
 * canonical form, stay as they are).
 */
export async function recordAuditEntries(trx: TenantTransaction, entries: ReadonlyArray<{ context: AuditContext; entry: AuditEntry }>): Promise<void> {
  const tenantId = tenantIdOf(trx);
  if (!tenantId) throw new TenantScopeError('recordAudit');
  if (entries.length === 0) return;
  const named = entries.map(({ context, entry }) => ({ context, entry: context.actorName ? { ...entry, details: { ...entry.details, actorName: context.actorName } } : entry }));
  await trx.raw(
    `insert into audit_events (tenant_id, ${AUDIT_ROW_COLUMNS}) values ${named.map(() => `(?, ${AUDIT_ROW_PLACEHOLDERS})`).join(', ')}`,
    named.flatMap(({ context, entry }) => [tenantId, ...auditRowValues(context, entry)]),
  );
}

/** An entry's columns (after its scope), shared with the operators' log (db/notices.ts). */
export const AUDIT_ROW_COLUMNS = 'actor_type, actor_id, actor_roles, client_ip, user_agent, request_id, action, outcome, target_type, target_id, details';
export const AUDIT_ROW_PLACEHOLDERS = '?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?';

export function auditRowValues(context: AuditContext, entry: AuditEntry): Knex.Value[] {
  return [
    context.actorType,
    context.actorId ?? null,
    context.actorRoles ?? [],
    context.clientIp ?? null,
    context.userAgent?.slice(0, 512) ?? null,
    context.requestId ?? null,
    entry.action,
    entry.outcome,
    entry.targetType ?? null,
    entry.targetId ?? null,
    JSON.stringify(entry.details ?? {}),
  ];
}

/**
 * For failures: written in a transaction of its own, so it survives the rollback of the work it
 * reports. A record of what happened or was refused, not a change of the clinic's data: written
 * even if the clinic became read-only meanwhile (outsideClinicWrite).
 */
export function recordAuditNow(db: Db, tenantId: string, context: AuditContext, entry: AuditEntry): Promise<void> {
  return outsideClinicWrite(() => withTenant(db, tenantId, (trx) => recordAudit(trx, context, entry)));
}

/** The columns clients see, in the order CSV exports use. */
/** An entry as the screens and the API read it (the clinic log's and the platform's columns alike). */
export const AUDIT_COLUMNS_SQL = `seq::text as seq,
  to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as occurred_at,
  actor_type, actor_id, actor_roles, action, target_type, target_id, outcome,
  host(client_ip) as client_ip, user_agent, request_id, details, encode(hash, 'hex') as hash`;

export interface AuditRecord {
  seq: string;
  occurred_at: string;
  actor_type: string;
  actor_id: string | null;
  actor_roles: string[];
  action: string;
  target_type: string | null;
  target_id: string | null;
  outcome: string;
  client_ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
  hash: string;
}

function filterSql(trx: TenantTransaction, f: AuditFilter, beforeSeq?: string): { sql: string; bindings: Knex.Value[] } {
  // Row-level security scopes to the clinic; the explicit predicate lets the indexes serve it.
  return auditFilterSql(f, beforeSeq, { sql: 'tenant_id = ?::uuid', bindings: [tenantIdOf(trx)!] });
}

/** The filter of a log's screen as SQL, within `scope` (a clinic, or the whole platform log). */
export function auditFilterSql(f: AuditFilter, beforeSeq: string | undefined, scope: { sql: string; bindings: Knex.Value[] }): { sql: string; bindings: Knex.Value[] } {
  const where = ['occurred_at >= ?::timestamptz', 'occurred_at <= ?::timestamptz'];
  const bindings: Knex.Value[] = [f.from, f.to];
  if (f.actor) {
    // An account by its id; operators and the system as a kind (their ids name a person or a job).
    where.push(f.actor === 'operator' || f.actor === 'system' ? 'actor_type = ?::text' : 'actor_id = ?::text');
    bindings.push(f.actor);
  }
  if (f.action) {
    if (f.actionPrefix) {
      where.push(`action like ?::text escape '\\'`);
      bindings.push(`${f.action.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    } else {
      where.push('action = ?::text');
      bindings.push(f.action);
    }
  }
  if (f.target) {
    where.push('target_id = ?::text');
    bindings.push(f.target);
  }
  if (f.outcome) {
    where.push('outcome = ?::text');
    bindings.push(f.outcome);
  }
  if (beforeSeq) {
    where.push('seq < ?::bigint');
    bindings.push(beforeSeq);
  }
  where.push(scope.sql);
  bindings.push(...scope.bindings);
  return { sql: where.join(' and '), bindings };
}

/**
 * Newest first, keyset-paginated by sequence number (stable while entries are being added). The
 * order names the table's column: the output column `seq` is text (bigint does not fit a JSON
 * number), and ordering by it sorted 9 above 74.
 */
export async function listAuditEvents(trx: TenantTransaction, f: AuditFilter, opts: { limit: number; beforeSeq?: string }) {
  const { sql, bindings } = filterSql(trx, f, opts.beforeSeq);
  const { rows } = await trx.raw(`select ${AUDIT_COLUMNS_SQL} from audit_events where ${sql} order by audit_events.seq desc limit ?`, [...bindings, opts.limit + 1]);
  const page = (rows as AuditRecord[]).slice(0, opts.limit);
  return { rows: page, nextBeforeSeq: rows.length > opts.limit ? page[page.length - 1]!.seq : null };
}

/** The CSV export's columns, in order: the header line names them. */
export const AUDIT_CSV_COLUMNS = [
  'seq', 'occurred_at', 'actor_type', 'actor_id', 'actor_roles', 'action', 'target_type', 'target_id',
  'outcome', 'client_ip', 'user_agent', 'request_id', 'details', 'hash',
] as const;

/**
 * A cell that could start like a spreadsheet formula (= + - @, tab, CR) gets a leading `'`
 * (the rule of domain/csv.ts, here in SQL).
 * Applied to every free-text column; the others cannot start that way: seq and the time are
 * digits, actor_type and outcome are fixed words (CHECK constraints), roles and details are a
 * JSON array and object (`[`, `{`), client_ip an address, hash hex. Empty text becomes an empty
 * cell, as NULL does (COPY alone would write `""`).
 */
const guarded = (column: string) => `case when ascii(${column}) in (${FORMULA_LEAD_CODES.join(', ')}) then '''' || ${column} else nullif(${column}, '') end`;

const CSV_SELECT = `seq, to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), actor_type,
  ${guarded('actor_id')}, to_json(actor_roles), ${guarded('action')}, ${guarded('target_type')}, ${guarded('target_id')},
  outcome, host(client_ip), ${guarded('user_agent')}, ${guarded('request_id')}, details, encode(hash, 'hex')`;

const literalOf = (v: Knex.Value): string => (v instanceof Date ? v.toISOString() : String(v));

/** The pg client under a knex transaction: the one connection COPY must run on. */
interface PgConnection {
  query<T>(submittable: T): T;
  connection: { stream: { destroy(): void } };
}

/**
 * Oldest first, as RFC 4180 CSV rows without header (UTF-8, CRLF), written into `sink` by
 * PostgreSQL's own COPY (db/copy-out.ts): no per-row objects in this process, memory flat for
 * any number of rows. COPY takes no bind parameters, so the filter's values travel as
 * transaction-local settings (set with bind parameters) that the query reads back once each.
 * If the sink goes away early (the client disconnected), the connection is closed: that ends
 * COPY and the transaction on the server, and the pool drops the connection.
 */
/** Limits for a long export's transaction: no statement runs over 10 minutes, no idle wait over 1. */
export async function boundExportTransaction(trx: Knex.Transaction): Promise<void> {
  await trx.raw(`select set_config('statement_timeout', '600s', true), set_config('idle_in_transaction_session_timeout', '60s', true)`);
}

export async function copyAuditCsv(trx: TenantTransaction, f: AuditFilter, sink: NodeJS.WritableStream, opts: { end?: boolean } = {}): Promise<void> {
  const { sql, bindings } = filterSql(trx, f);
  // COPY takes no bind parameters, so the filter's values are written into the statement as
  // literals, quoted by pg's escapeLiteral (every quote and backslash escaped). They used to be
  // read from set_config'd settings instead, but the planner cannot see such values: it guessed
  // a narrow time window, read the clinic's rows by time and sorted all of them by seq (a
  // 1,000,000-row export spilled a sort to disk). With the values in view it walks the seq
  // index for a wide window and sorts only a narrow one.
  let n = 0;
  const where = sql.replace(/\?/g, () => escapeLiteral(literalOf(bindings[(n += 1) - 1]!)));
  if (n !== bindings.length) throw new Error('copyAuditCsv: placeholders and values differ');
  const connection = await (trx.client as unknown as { acquireConnection(): Promise<PgConnection> }).acquireConnection();
  const rows = connection.query(new CsvCopyOut(`copy (select ${CSV_SELECT} from audit_events where ${where} order by seq) to stdout with (format csv)`));
  try {
    await pipeline(rows, sink, { end: opts.end ?? true });
  } catch (err) {
    // Mid-COPY the connection cannot take another statement (not even ROLLBACK): close its
    // socket. The server then ends COPY and rolls back; the pool discards the connection.
    // pg then fails the COPY query with "Connection terminated": that is this failure again,
    // already reported by pipeline, which no longer listens (an unheard 'error' would crash).
    rows.on('error', () => undefined);
    connection.connection.stream.destroy();
    throw err;
  }
}

export interface ChainVerification {
  ok: boolean;
  checked: number;
  fromSeq: number | null;
  toSeq: number | null;
  headSeq: number | null;
  firstBroken: { seq: number; reason: 'hash_mismatch' | 'prev_hash_mismatch' | 'missing_entries' | 'head_mismatch' } | null;
}

/** Which chain to walk: the clinic logs and the platform log share one verifier. */
export interface ChainSpec {
  /** Table and canonical function (fixed identifiers of ours, never input). */
  table: 'audit_events' | 'platform_audit_events';
  canonical: 'audit_canonical' | 'platform_audit_canonical';
  /** The chain's rows: a predicate with its bindings (a clinic's, or none for the platform's). */
  scope: { sql: string; bindings: Knex.Value[] };
  head: { seq: number; hash: Buffer } | null;
  genesis: string;
}

/**
 * Walks the clinic's chain from `fromSeq` to `toSeq` (default: all) in batches and reports the
 * first broken link: an entry whose content no longer matches its hash, one that does not point
 * at its predecessor's hash, a gap in the sequence, or a chain whose end is not the recorded head.
 */
export async function verifyAuditChain(trx: TenantTransaction, range: { fromSeq?: number; toSeq?: number } = {}): Promise<ChainVerification> {
  const tenantId = tenantIdOf(trx)!;
  const head = await trx('audit_chain_heads').where({ tenant_id: tenantId }).first();
  return verifyChain(trx, {
    table: 'audit_events',
    canonical: 'audit_canonical',
    scope: { sql: 'tenant_id = ?', bindings: [tenantId] },
    head: head ? { seq: Number(head.seq), hash: head.hash } : null,
    genesis: `genesis:${tenantId}`,
  }, range);
}

export async function verifyChain(trx: Knex.Transaction, spec: ChainSpec, range: { fromSeq?: number; toSeq?: number } = {}): Promise<ChainVerification> {
  const headSeq = spec.head?.seq ?? null;
  const from = Math.max(1, range.fromSeq ?? 1);
  const to = Math.min(range.toSeq ?? Number.MAX_SAFE_INTEGER, headSeq ?? 0);
  const result: ChainVerification = { ok: true, checked: 0, fromSeq: null, toSeq: null, headSeq, firstBroken: null };
  if (headSeq === null || from > to) return result;

  let expectedPrev: Buffer;
  if (from === 1) {
    expectedPrev = (await trx.raw(`select sha256(convert_to(?::text, 'UTF8')) as h`, [spec.genesis])).rows[0].h;
  } else {
    const { rows } = await trx.raw(`select hash from ${spec.table} where ${spec.scope.sql} and seq = ?`, [...spec.scope.bindings, from - 1]);
    expectedPrev = rows[0]?.hash ?? Buffer.alloc(0);
  }
  let expectedSeq = from;
  const fail = (seq: number, reason: NonNullable<ChainVerification['firstBroken']>['reason']) => {
    result.ok = false;
    result.firstBroken = { seq, reason };
    return result;
  };
  const BATCH = 5_000;
  for (;;) {
    const { rows } = await trx.raw(
      `select seq, prev_hash, hash, sha256(prev_hash || convert_to(${spec.canonical}(e), 'UTF8')) as computed
         from ${spec.table} e where ${spec.scope.sql} and seq >= ? and seq <= ? order by seq limit ?`,
      [...spec.scope.bindings, expectedSeq, to, BATCH],
    );
    for (const row of rows as Array<{ seq: string; prev_hash: Buffer; hash: Buffer; computed: Buffer }>) {
      const seq = Number(row.seq);
      if (seq !== expectedSeq) return fail(expectedSeq, 'missing_entries');
      if (!row.prev_hash.equals(expectedPrev)) return fail(seq, 'prev_hash_mismatch');
      if (!row.computed.equals(row.hash)) return fail(seq, 'hash_mismatch');
      result.fromSeq ??= seq;
      result.toSeq = seq;
      result.checked += 1;
      expectedPrev = row.hash;
      expectedSeq = seq + 1;
    }
    if (rows.length < BATCH) break;
  }
  if (expectedSeq <= to) return fail(expectedSeq, 'missing_entries');
  if (to === headSeq && !expectedPrev.equals(spec.head!.hash)) return fail(to, 'head_mismatch');
  return result;
}
