import type { Db } from './connection';
import { withTenant } from './tenant-scope';

/**
 * The contract-end purge's data access, run as the purge's own login (PURGE_DATABASE_URL, member
 * of forclinic_purge): it sees and may delete one clinic's rows (app.tenant_id, set by
 * withTenant) in every table with a tenant_id, and may do nothing else.
 *
 * Tables are discovered from the catalog at run time, so a table added later is purged without
 * anyone remembering to list it; a table the purge role may not delete from stops the purge
 * before anything is deleted (no clinic data is left silently).
 */
export interface PurgeTable {
  name: string;
  /** Whether the purge role may delete from it (isolateByTenant grants it). */
  purgeable: boolean;
}

/**
 * Every base table of the schema with a tenant_id column, children before parents: a table that
 * references another (a foreign key between two such tables) is emptied first, so no delete ever
 * waits on or fails for a row that still points at it.
 */
export async function clinicTables(db: Db): Promise<PurgeTable[]> {
  const { rows: tables } = await db.raw<{ rows: Array<{ name: string; purgeable: boolean }> }>(`
    select c.relname as name, has_table_privilege(current_user, c.oid, 'DELETE') and has_table_privilege(current_user, c.oid, 'SELECT') as purgeable
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
     where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
     order by c.relname`);
  const { rows: edges } = await db.raw<{ rows: Array<{ child: string; parent: string }> }>(`
    select distinct ch.relname as child, pa.relname as parent
      from pg_constraint k join pg_class ch on ch.oid = k.conrelid join pg_class pa on pa.oid = k.confrelid
      join pg_namespace n on n.oid = ch.relnamespace
     where k.contype = 'f' and n.nspname = 'public' and k.conrelid <> k.confrelid`);
  const names = new Set(tables.map((t) => t.name));
  const parentsOf = new Map<string, Set<string>>();
  const childrenOf = new Map<string, Set<string>>();
  for (const { child, parent } of edges) {
    if (!names.has(child) || !names.has(parent)) continue;
    (childrenOf.get(parent) ?? childrenOf.set(parent, new Set()).get(parent)!).add(child);
    (parentsOf.get(child) ?? parentsOf.set(child, new Set()).get(child)!).add(parent);
  }
  // Kahn's algorithm over "child before parent": a table goes once all its children went.
  const ordered: PurgeTable[] = [];
  const left = new Map(tables.map((t) => [t.name, t]));
  while (left.size) {
    const ready = [...left.keys()].filter((name) => [...(childrenOf.get(name) ?? [])].every((c) => !left.has(c)));
    // A cycle of foreign keys (none today) would need deferred constraints; refuse rather than guess.
    if (!ready.length) throw new Error(`purge: foreign keys form a cycle among ${[...left.keys()].join(', ')}`);
    for (const name of ready.sort()) {
      ordered.push(left.get(name)!);
      left.delete(name);
    }
  }
  return ordered;
}

/** The clinic's rows per table, all counted by one statement (one snapshot): what the certificate says existed. */
export async function countClinicRows(db: Db, tenantId: string, tables: string[]): Promise<Record<string, number>> {
  if (!tables.length) return {};
  return withTenant(db, tenantId, async (trx) => {
    const columns = tables.map((t, i) => `(select count(*) from ${quoteIdent(t)} where tenant_id = ?)::bigint as c${i}`).join(', ');
    const { rows } = await trx.raw(`select ${columns}`, tables.map(() => tenantId));
    return Object.fromEntries(tables.map((t, i) => [t, Number(rows[0][`c${i}`])]));
  });
}

/**
 * Deletes up to `limit` of the clinic's rows of one table in a transaction of its own, so locks
 * are short and a killed worker loses at most one uncommitted batch (which the retry deletes).
 * Rows already gone are simply not found: a retry never fails for them.
 */
export async function deleteClinicBatch(db: Db, tenantId: string, table: string, limit: number): Promise<number> {
  return withTenant(db, tenantId, async (trx) => {
    const t = quoteIdent(table);
    const result = await trx.raw(`delete from ${t} where ctid = any(array(select ctid from ${t} where tenant_id = ? limit ?))`, [tenantId, limit]);
    return result.rowCount as number;
  });
}

/** Tables and ids of the clinic's master keys, read before the keys are destroyed (for the certificate). */
export async function clinicMasterKeyIds(db: Db, tenantId: string): Promise<string[]> {
  return withTenant(db, tenantId, async (trx) => (await trx('tenant_master_keys').where({ tenantId }).orderBy('createdAt').select('id')).map((r: { id: string }) => r.id));
}

const quoteIdent = (name: string) => {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`purge: unexpected table name ${name}`);
  return `"${name}"`;
};
