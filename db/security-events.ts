import type { Knex } from 'knex';
import type { Db } from './connection';
import { tenantIdOf, type TenantTransaction } from './tenant-scope';
import type { Keyset } from '../domain/pagination';
import type { SecurityEventKind } from '../domain/security-events';

/**
 * Denied attempts, one row per (clinic or NO_CLINIC, kind, minute, source network) with a count
 * (migration 20261211000010_security_events). Written only as increments of that row, so the
 * table is bounded by sources × minutes × kinds however many attempts arrive.
 */
const MAX_LISTED = 10;

export interface SecurityEventIncrement {
  kind: SecurityEventKind;
  clientNet: string;
  attempts: number;
  accountIds: string[];
  routes: string[];
}

export interface SecurityEventRow {
  id: string;
  minute: string;
  /** Full precision, for the cursor. */
  cursorTs: string;
  tenantId: string;
  kind: SecurityEventKind;
  clientNet: string;
  attempts: number;
  accountIds: string[];
  routes: string[];
}

/**
 * Adds `attempts` to the row of this minute in one statement (insert, or update of the row a
 * concurrent writer in any process inserted first). The lists keep the entries they have and
 * take new distinct ones up to MAX_LISTED. True when this call created the row: the first
 * attempt of this source, kind and minute.
 */
export async function addSecurityEvent(trx: TenantTransaction, e: SecurityEventIncrement): Promise<boolean> {
  const { rows } = await trx.raw(
    `insert into security_events as s (tenant_id, kind, minute, client_net, attempts, account_ids, routes)
     values (?, ?, date_trunc('minute', now()), ?, ?, ?::uuid[], ?::text[])
     on conflict (tenant_id, kind, minute, client_net) do update set
       attempts = s.attempts + excluded.attempts,
       account_ids = s.account_ids || array(select a from unnest(excluded.account_ids) a
                                            where a <> all(s.account_ids) limit greatest(0, ${MAX_LISTED} - cardinality(s.account_ids))),
       routes = s.routes || array(select r from unnest(excluded.routes) r
                                  where r <> all(s.routes) limit greatest(0, ${MAX_LISTED} - cardinality(s.routes)))
     returning attempts`,
    [tenantIdOf(trx)!, e.kind, e.clientNet, e.attempts, e.accountIds.slice(0, MAX_LISTED), e.routes.slice(0, MAX_LISTED)],
  );
  return rows[0].attempts === e.attempts;
}

export interface SecurityEventPageQuery {
  from: Date;
  to: Date;
  kind?: SecurityEventKind;
  limit: number;
  before?: Keyset;
}

/** Newest first by (minute, id); `before` is the keyset of the previous page's last row. */
async function page(q: Knex.QueryBuilder, knex: Knex, opts: SecurityEventPageQuery): Promise<{ rows: SecurityEventRow[]; next: Keyset | null }> {
  q.select(
    'id',
    knex.raw(`to_char(minute at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as minute`),
    knex.raw(`to_char(minute at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_ts`),
    'tenant_id',
    'kind',
    'client_net',
    'attempts',
    'account_ids',
    'routes',
  )
    .whereBetween('minute', [opts.from, opts.to])
    .orderBy([{ column: 'minute', order: 'desc' }, { column: 'id', order: 'desc' }])
    .limit(opts.limit + 1);
  if (opts.kind) q.where({ kind: opts.kind });
  if (opts.before) q.whereRaw('(minute, id) < (?::timestamptz, ?::uuid)', [opts.before.createdAt, opts.before.id]);
  const rows = (await q) as SecurityEventRow[];
  const items = rows.slice(0, opts.limit);
  const last = items[items.length - 1];
  return { rows: items, next: rows.length > opts.limit && last ? { createdAt: last.cursorTs, id: last.id } : null };
}

/** The clinic in scope's rows (row-level security agrees). */
export function listSecurityEvents(trx: TenantTransaction, opts: SecurityEventPageQuery) {
  return page(trx('security_events').where({ tenant_id: tenantIdOf(trx)! }), trx, opts);
}

/**
 * Every clinic's rows and those about no clinic, for operators: the one read that sees across
 * clinics, select-only and of this table only (the migration's operator_overview policy).
 * `clinic` narrows to one clinic or to NO_CLINIC.
 */
export function listAllSecurityEvents(db: Db, opts: SecurityEventPageQuery & { clinic?: string }) {
  return db.transaction(async (trx) => {
    await trx.raw(`select set_config('app.security_overview', 'on', true)`);
    const q = trx('security_events');
    if (opts.clinic) q.where({ tenant_id: opts.clinic });
    return page(q, trx, opts);
  });
}

export async function pruneSecurityEvents(trx: TenantTransaction, olderThanDays: number): Promise<number> {
  return trx('security_events')
    .where({ tenant_id: tenantIdOf(trx)! })
    .where('minute', '<', trx.raw(`now() - make_interval(days => ?)`, [olderThanDays]))
    .delete();
}
