import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createDataExportActivities } from '../activities/data-exports';
import { createDb } from '../db/connection';
import { withTenant } from '../db/tenant-scope';
import { localKeyProvider } from '../lib/crypto/local-key-provider';
import { Vault } from '../lib/crypto/vault';
import { fsObjectStore } from '../lib/storage/object-store';

/**
 * The export of scripts/bench-exports.ts in a process of its own (its peak RSS is the figure):
 * the workflow's steps in its order, each activity run as Temporal would run it (a mock activity
 * context, so heartbeats work), without a Temporal server.
 */
async function main() {
  const tenantId = process.env.BENCH_TENANT!;
  // BENCH_EXPORT_TRACE_MEMORY=1: where the memory goes, every 2 s (RSS vs V8 heap vs buffers).
  if (process.env.BENCH_EXPORT_TRACE_MEMORY) {
    const mib = (n: number) => Math.round(n / 2 ** 20);
    setInterval(() => {
      const m = process.memoryUsage();
      // RssAnon is what the process allocated (heaps, buffers, malloc arenas); RssFile is mapped code.
      const status = readFileSync('/proc/self/status', 'utf8');
      const kb = (name: string) => mib(Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024);
      process.stderr.write(`[export memory] rss ${mib(m.rss)} (anon ${kb('RssAnon')} file ${kb('RssFile')}) heapUsed ${mib(m.heapUsed)} heapTotal ${mib(m.heapTotal)} external ${mib(m.external)} arrayBuffers ${mib(m.arrayBuffers)}\n`);
    }, 2_000).unref();
  }
  const peakBefore = peakRss();
  const db = createDb({ url: process.env.BENCH_DB_URL!, poolMax: 4, applicationName: 'for-clinic-bench-export' });
  const activities = createDataExportActivities({ db, vault: new Vault(db, localKeyProvider({ dir: process.env.BENCH_KEYS_DIR! })), storage: fsObjectStore(path.resolve(process.env.BENCH_STORE_DIR!)) });
  const mock = new MockActivityEnvironment();
  /** Runs an activity in the mock context, keeping its return type. */
  const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> => mock.run(fn, ...args) as Promise<R>;
  const exportId = randomUUID();
  const createdAt = new Date().toISOString();
  await withTenant(db, tenantId, (trx) => trx('data_exports').insert({ id: exportId, tenant_id: tenantId, workflow_id: `data-export/${exportId}`, state: 'running' }));
  const ref = { tenantId, exportId };
  const started = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  const plan = await run(activities.planDataExport, ref);
  const tables: Array<{ name: string; rows: number }> = [];
  for (const table of plan.tables) {
    const done = await run(activities.exportTablePart, { ...ref, table });
    tables.push({ name: done.table, rows: done.rows });
  }
  const tablesSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const peakAfterTables = peakRss();
  const archive = await run(activities.assembleExportArchive, { ...ref, createdAt, tables });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  // Patients, consultations and timelines are counted by the archive's records pass.
  const rows = [...tables, ...archive.tables].reduce((n, t) => n + t.rows, 0);
  process.send!({
    rows,
    seconds,
    // CPU time of this process (all its threads): what the export costs whatever else the machine runs.
    cpuSeconds: (() => { const c = process.cpuUsage(cpuBefore); return Math.round((c.user + c.system) / 1e5) / 10; })(),
    tablesSeconds,
    archiveSeconds: seconds - tablesSeconds,
    archiveMiB: Math.round(archive.sizeBytes / 2 ** 20),
    entries: archive.entries,
    peakRssMiB: peakRss(),
    peakRssAfterTablesMiB: peakAfterTables,
    rssBeforeMiB: peakBefore,
    heapUsedMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
  });
  await db.destroy();
}

/** The process's peak resident set so far (VmHWM), MiB. */
function peakRss(): number {
  const peak = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return peak ? Math.round(Number(peak[1]) / 1024) : -1;
}

main().catch((err) => {
  process.send!({ error: (err as Error).stack ?? String(err) });
});
