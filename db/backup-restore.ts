import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client, escapeIdentifier } from 'pg';
import { from as copyFrom, type CopyToStreamQuery } from 'pg-copy-streams';
import type { Manifest } from '../lib/backup/manifest';
import { measure } from '../lib/backup/streams';
import { readTableObject, type VerificationProblem } from '../lib/backup/verify';
import type { BackupStore } from '../lib/storage/backup-store';
import { copiedRows, copyOut } from './backup-snapshot';
import { createDb } from './connection';

/**
 * Restoring a generation into a database (the restore test's scratch database, or a real
 * target in disaster recovery), as that database's OWNER:
 *
 * 1. The schema comes from our migrations, applied one by one up to the generation's own latest
 *    migration (a newer target is refused), so restored rows meet the schema they came from.
 * 2. One transaction: every table's user triggers (the operation log's chain trigger, the
 *    append-only guards) are disabled and FORCE ROW LEVEL SECURITY lifted, so the rows go in
 *    exactly as they were backed up — hash chains included — and the owner may write them; a
 *    non-empty target is refused unless forced (then emptied); each object is verified while it
 *    streams into `COPY … FROM STDIN (FORMAT binary)`, parents before children (foreign keys
 *    stay checked); sequences are set; then every table is read back with the backup's own
 *    statement and its count and checksum compared with the manifest. Triggers and FORCE are
 *    put back and the transaction commits — or, on any difference, nothing at all is restored.
 */
export class RestoreRefused extends Error {
  override name = 'RestoreRefused';
}

export interface RestoredTable {
  name: string;
  rows: number;
  expectedRows: number;
  checksumOk: boolean;
}

export interface RestoreOutcome {
  ok: boolean;
  tables: RestoredTable[];
  problems: VerificationProblem[];
  durationMs: number;
}

type MigrationItem = string | { name?: string; file?: string };
const nameOf = (m: MigrationItem) => (typeof m === 'string' ? m : (m.name ?? m.file ?? ''));

/** Applies migrations one at a time until `target` is the latest applied. */
export async function migrateTo(ownerUrl: string, target: string): Promise<void> {
  const db = createDb({ url: ownerUrl, poolMax: 1, applicationName: 'for-clinic-restore', as: 'owner' });
  try {
    for (;;) {
      const [completed, pending] = (await db.migrate.list()) as [MigrationItem[], MigrationItem[]];
      const done = completed.map(nameOf);
      if (done.length && done[done.length - 1] === target) return;
      if (done.includes(target)) throw new RestoreRefused(`the target's schema is newer (${done[done.length - 1]}) than the backup's (${target}): restore into an empty database`);
      if (!pending.length || !pending.map(nameOf).includes(target)) {
        throw new RestoreRefused(`this code does not know the backup's migration ${target}: restore with the release that made the backup`);
      }
      await db.migrate.up();
    }
  } finally {
    await db.destroy();
  }
}

/** Parents before children, by the target's foreign keys. */
async function fkOrder(client: Client, names: string[]): Promise<string[]> {
  const { rows } = await client.query<{ child: string; parent: string }>(`
    select c.relname as child, p.relname as parent from pg_constraint k
      join pg_class c on c.oid = k.conrelid join pg_class p on p.oid = k.confrelid
      join pg_namespace n on n.oid = c.relnamespace
    where k.contype = 'f' and n.nspname = 'public' and c.oid <> p.oid`);
  const parents = new Map(names.map((n) => [n, new Set<string>()]));
  for (const r of rows) if (parents.has(r.child) && parents.has(r.parent)) parents.get(r.child)!.add(r.parent);
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (n: string) => {
    if (order.includes(n)) return;
    if (visiting.has(n)) throw new Error(`foreign keys form a cycle through ${n}`);
    visiting.add(n);
    for (const p of parents.get(n)!) visit(p);
    visiting.delete(n);
    order.push(n);
  };
  for (const n of [...names].sort()) visit(n);
  return order;
}

export async function restoreInto(o: {
  store: BackupStore;
  manifest: Manifest;
  dataKey: Buffer;
  /** The target database, as its owner. */
  targetUrl: string;
  /** Empty a non-empty target first (disaster recovery over a damaged database). */
  force?: boolean;
  onBytes?: (n: number) => void;
}): Promise<RestoreOutcome> {
  const started = Date.now();
  const { manifest } = o;
  await migrateTo(o.targetUrl, manifest.latestMigration);
  const client = new Client({ connectionString: o.targetUrl, application_name: 'for-clinic-restore', options: '-c TimeZone=UTC' });
  await client.connect();
  try {
    await client.query('begin');
    const byName = new Map(manifest.tables.map((t) => [t.name, t]));
    const order = await fkOrder(client, [...byName.keys()]);
    const forced = new Set(
      (await client.query<{ name: string }>(`select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and c.relforcerowsecurity`)).rows.map((r) => r.name),
    );
    const ident = (t: string) => `public.${escapeIdentifier(t)}`;
    for (const t of order) {
      await client.query(`alter table ${ident(t)} disable trigger user`);
      if (forced.has(t)) await client.query(`alter table ${ident(t)} no force row level security`);
    }
    const nonEmpty: string[] = [];
    for (const t of order) if ((await client.query(`select 1 from ${ident(t)} limit 1`)).rowCount) nonEmpty.push(t);
    if (nonEmpty.length && !o.force) {
      throw new RestoreRefused(`the target is not empty (${nonEmpty.slice(0, 5).join(', ')}${nonEmpty.length > 5 ? ', …' : ''}): pass --force to replace its contents`);
    }
    if (nonEmpty.length) await client.query(`truncate ${order.map(ident).join(', ')}`);

    const problems: VerificationProblem[] = [];
    for (const name of order) {
      const t = byName.get(name)!;
      const into = client.query(copyFrom(`copy ${ident(name)} (${t.columns.map(escapeIdentifier).join(', ')}) from stdin (format binary)`));
      problems.push(...(await readTableObject(o.store, o.dataKey, manifest.id, t, { into, onBytes: o.onBytes })));
      if (problems.length) throw new RestoreRefused(`${t.object.key}: ${problems.map((p) => p.problem).join(', ')}`);
    }
    for (const s of manifest.sequences) {
      await client.query(`select setval($1::regclass, $2::bigint, $3)`, [`public.${escapeIdentifier(s.name)}`, s.lastValue, s.isCalled]);
    }
    const tables: RestoredTable[] = [];
    const readBack: Array<{ copy: CopyToStreamQuery; bytes: number }> = [];
    for (const name of order) {
      const t = byName.get(name)!;
      const read = measure();
      const copy = copyOut(client, t);
      await pipeline(copy, read, new Writable({ write: (_c, _e, cb) => cb() }));
      readBack.push({ copy, bytes: read.bytes() });
      tables.push({ name, rows: 0, expectedRows: t.rows, checksumOk: read.sha256() === t.sha256 });
    }
    for (const t of order) {
      await client.query(`alter table ${ident(t)} enable trigger user`);
      if (forced.has(t)) await client.query(`alter table ${ident(t)} force row level security`);
    }
    // The restored counts are the ones the read-back COPY reported (no second scan with count(*));
    // later statements have answered, so every report has been seen.
    for (const [i, { copy, bytes }] of readBack.entries()) tables[i]!.rows = copiedRows(copy, bytes, tables[i]!.name);
    const ok = tables.every((t) => t.checksumOk && t.rows === t.expectedRows);
    // Every clinic's authentication generation jumps past any number an API process may have kept
    // from this database before a --force restore (db/session-auth-cache.ts): the restored counters
    // are older ones, and walking back up to a kept number would make an answer about data the
    // restore replaced look current. 2^40 moves: more than a clinic makes in its lifetime.
    if (ok && byName.has('auth_generations')) await client.query('update public.auth_generations set generation = generation + 1099511627776');
    await client.query(ok ? 'commit' : 'rollback');
    return { ok, tables, problems, durationMs: Date.now() - started };
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
}
