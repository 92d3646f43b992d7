import { Client, escapeIdentifier } from 'pg';
import { to as copyTo, type CopyToStreamQuery } from 'pg-copy-streams';

/**
 * Reading one consistent snapshot of the whole database for a backup, as the backup role
 * (BACKUP_DATABASE_URL): every table is copied inside ONE `REPEATABLE READ READ ONLY`
 * transaction, so all tables show the same moment. We chose this over `pg_dump` (the machine's
 * version 15 refuses a version 17 server, and the embedded package ships none) and over an
 * exported snapshot (it needs the same open transaction anyway, plus a second connection):
 * `COPY … TO STDOUT (FORMAT binary)` from Node works with every server version we run.
 *
 * The transaction takes only ACCESS SHARE locks (as pg_dump does): it blocks no reads or writes
 * of the application, only DDL (a migration waits for the backup to end). It runs on a
 * connection of its own, never the application's pool.
 */
export interface SnapshotTable {
  name: string;
  columns: string[];
  orderBy: string[];
}

/** Tables the backup covers: every table in `public` except knex's migration bookkeeping (the restore rebuilds that by migrating). */
const TABLES_SQL = `
select c.relname as name,
  array(select a.attname from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attgenerated = '' order by a.attnum)::text[] as columns,
  coalesce(array(select a.attname from pg_index i cross join unnest(i.indkey) with ordinality k(attnum, n)
    join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
    where i.indrelid = c.oid and i.indisprimary order by k.n)::text[], '{}') as order_by
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
  and c.relname not in ('knex_migrations', 'knex_migrations_lock')
order by c.relname`;

export async function openSnapshot(url: string): Promise<Client> {
  const client = new Client({ connectionString: url, application_name: 'for-clinic-backup', options: '-c TimeZone=UTC' });
  await client.connect();
  return client;
}

/**
 * Begins the snapshot: the transaction, then ACCESS SHARE locks on every table before the first
 * query takes the snapshot (as pg_dump does: a table altered between the snapshot and its turn
 * would otherwise be read with a schema the snapshot does not know).
 */
export async function beginSnapshot(client: Client): Promise<{ tables: SnapshotTable[]; postgresVersion: string; latestMigration: string; sequences: Array<{ name: string; lastValue: string; isCalled: boolean }> }> {
  // The tables are listed before the transaction begins: in REPEATABLE READ the first query of
  // the transaction fixes its snapshot, and that must come after the locks (LOCK takes none).
  const listed = await client.query<{ name: string }>(`select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition and c.relname not in ('knex_migrations', 'knex_migrations_lock')`);
  await client.query('begin isolation level repeatable read read only');
  if (listed.rows.length) await client.query(`lock table ${listed.rows.map((r) => `public.${escapeIdentifier(r.name)}`).join(', ')} in access share mode`);
  const tables = (await client.query<{ name: string; columns: string[]; order_by: string[] }>(TABLES_SQL)).rows.map((r) => ({ name: r.name, columns: r.columns, orderBy: r.order_by }));
  const meta = await client.query<{ version: string; migration: string | null }>(
    `select current_setting('server_version') as version, (select name from knex_migrations order by id desc limit 1) as migration`,
  );
  const seqNames = await client.query<{ name: string }>(`select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind = 'S' order by 1`);
  const sequences = [];
  for (const { name } of seqNames.rows) {
    const { rows } = await client.query<{ last_value: string; is_called: boolean }>(`select last_value::text, is_called from public.${escapeIdentifier(name)}`);
    sequences.push({ name, lastValue: rows[0]!.last_value, isCalled: rows[0]!.is_called });
  }
  return { tables, postgresVersion: meta.rows[0]!.version, latestMigration: meta.rows[0]!.migration ?? '', sequences };
}

/** `COPY (select … order by pk) TO STDOUT (FORMAT binary)`: the same statement reads a restored table for comparison. */
export function copyOutSql(t: SnapshotTable): string {
  const cols = t.columns.map(escapeIdentifier).join(', ');
  const order = t.orderBy.length ? ` order by ${t.orderBy.map(escapeIdentifier).join(', ')}` : '';
  return `copy (select ${cols} from public.${escapeIdentifier(t.name)}${order}) to stdout (format binary)`;
}

/**
 * The row count a finished COPY reported ("COPY n"). Read it only once a later statement on the
 * same connection has answered: the report may be handled after the stream ended, never after
 * the next reply. A binary COPY without rows is its 19-byte header and 2-byte trailer, so more
 * bytes with a count of 0 mean the report was not seen.
 */
export function copiedRows(copy: CopyToStreamQuery, bytes: number, table: string): number {
  if (copy.rowCount === 0 && bytes > 21) throw new Error(`COPY of ${table} reported no row count`);
  return copy.rowCount;
}

/** Its `rowCount` is the count COPY reports when it completes (see copiedRows). */
export function copyOut(client: Client, t: SnapshotTable): CopyToStreamQuery {
  return client.query(copyTo(copyOutSql(t)));
}

/**
 * What makes a BACKUP_DATABASE_URL unfit: it must read everything (BYPASSRLS, SELECT on every
 * table) and change nothing (no superuser, no ownership, no write privilege on any table).
 * An owner or superuser credential in the worker would put the whole database one bug away.
 */
export async function backupRoleProblems(client: Client): Promise<string[]> {
  const { rows } = await client.query<{ problem: string }>(`
    with me as (select r.* from pg_roles r where r.rolname = session_user),
    tables as (select c.oid, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind in ('r', 'p'))
    select 'is a superuser' as problem from me where rolsuper
    union all select 'lacks BYPASSRLS (it could not read every clinic''s rows)' from me where not rolbypassrls and not rolsuper
    union all select 'owns ' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace, me
      where c.relowner = me.oid and n.nspname = 'public'
    union all select 'may ' || p.name || ' ' || t.relname from tables t cross join (values ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE')) p(name), me
      where not me.rolsuper and has_table_privilege(me.oid, t.oid, p.name)
    union all select 'cannot read ' || t.relname from tables t, me where not me.rolsuper and not has_table_privilege(me.oid, t.oid, 'SELECT')`);
  return rows.map((r) => r.problem);
}
