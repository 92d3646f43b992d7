import type { Knex } from 'knex';
import type { AuditFilter } from '../domain/audit-query';
import { AUDIT_COLUMNS_SQL, AUDIT_ROW_COLUMNS, AUDIT_ROW_PLACEHOLDERS, auditFilterSql, auditRowValues, verifyChain, type AuditContext, type AuditEntry, type AuditRecord, type ChainVerification } from './audit';
import type { Db } from './connection';
import { enterPlatform, withPlatform, type PlatformTransaction } from './platform-scope';

/**
 * The platform operation log: what the provider's operators did (every operator request, and
 * each platform action such as a notice or a backup), append-only and hash-chained like the
 * clinic logs (migration 20270101000004_platform_operation_log). Entries are written through
 * here only; the application role may insert and read them inside withPlatform, never change
 * or delete them. Details hold ids and counts, never clinical or personal text.
 */
export async function recordPlatformEntry(trx: PlatformTransaction, context: AuditContext, entry: AuditEntry): Promise<void> {
  await recordPlatformEntries(trx, [{ context, entry }]);
}

/** Several entries in one statement, chained in the order given (the operator listener's group commits). */
export async function recordPlatformEntries(trx: PlatformTransaction, entries: ReadonlyArray<{ context: AuditContext; entry: AuditEntry }>): Promise<void> {
  if (entries.length === 0) return;
  await trx.raw(
    `insert into platform_audit_events (${AUDIT_ROW_COLUMNS}, actor_name) values ${entries.map(() => `(${AUDIT_ROW_PLACEHOLDERS}, ?)`).join(', ')}`,
    entries.flatMap(({ context, entry }) => [...auditRowValues(context, entry), context.actorName ?? null]),
  );
}

/**
 * An operator's action on the platform, in the caller's transaction when given one (the entry
 * commits with the change it reports) or in one of its own.
 */
export async function recordOperatorAction(
  db: Db | Knex.Transaction,
  context: AuditContext,
  entry: { action: string; targetType?: string; targetId?: string; details?: Record<string, unknown> },
): Promise<void> {
  const write = (trx: PlatformTransaction) => recordPlatformEntry(trx, context, { ...entry, outcome: 'success' });
  if ((db as Knex.Transaction).isTransaction) await write(await enterPlatform(db as Knex.Transaction));
  else await withPlatform(db as Db, write);
}

/** Walks the platform chain (all of it by default) and reports its first broken link, as verifyAuditChain does for a clinic. */
export async function verifyPlatformChain(trx: PlatformTransaction, range: { fromSeq?: number; toSeq?: number } = {}): Promise<ChainVerification> {
  const head = await trx('platform_audit_chain_head').first();
  if (!head) {
    // The first entry creates the head: entries without one mean it was removed.
    const first = await trx('platform_audit_events').min('seq as seq').first();
    const empty = first?.seq === null || first?.seq === undefined;
    return { ok: empty, checked: 0, fromSeq: null, toSeq: null, headSeq: null, firstBroken: empty ? null : { seq: Number(first!.seq), reason: 'head_mismatch' } };
  }
  return verifyChain(trx, {
    table: 'platform_audit_events',
    canonical: 'platform_audit_canonical',
    scope: { sql: 'true', bindings: [] },
    head: { seq: Number(head.seq), hash: head.hash },
    genesis: 'genesis:platform',
  }, range);
}

/** An entry of the platform log: a clinic log's columns and the name of the person (or key) who acted. */
export type PlatformRecord = AuditRecord & { actor_name: string | null };

/**
 * Newest first, keyset-paginated by sequence number, filtered as a clinic's log screen is
 * (window, actor, action or its prefix, target, outcome).
 */
export async function listPlatformEntries(trx: PlatformTransaction, f: AuditFilter, opts: { limit: number; beforeSeq?: string }): Promise<{ rows: PlatformRecord[]; nextBeforeSeq: string | null }> {
  const { sql, bindings } = auditFilterSql(f, opts.beforeSeq, { sql: 'true', bindings: [] });
  const { rows } = await trx.raw(`select ${AUDIT_COLUMNS_SQL}, actor_name from platform_audit_events where ${sql} order by platform_audit_events.seq desc limit ?`, [...bindings, opts.limit + 1]);
  const page = (rows as PlatformRecord[]).slice(0, opts.limit);
  return { rows: page, nextBeforeSeq: rows.length > opts.limit ? page[page.length - 1]!.seq : null };
}
