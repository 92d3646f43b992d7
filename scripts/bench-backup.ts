import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { restoreInto } from '../db/backup-restore';
import { provisionBackupRoles } from '../db/backup-roles';
import { dropDatabase, ensureDatabase, withDatabase } from '../db/database';
import { dropLoginRole, withLogin } from '../db/roles';
import { migrateTo } from '../db/backup-restore';
import { openGeneration } from '../lib/backup/verify';
import { forkNiced } from '../lib/backup/write-process';
import type { Manifest } from '../lib/backup/manifest';
import { localKeyProvider } from '../lib/crypto/local-key-provider';
import { fsBackupStore } from '../lib/storage/backup-store';
import { WORKER_NODE_FLAGS } from '../workers/node-flags';
import { compared, elapsedMs, percentile, round, say } from './bench-lib';

/** As the worker's backup process runs (lib/config.ts BACKUP_NICE, default 10). */
const BACKUP_NICE = Number(process.env.BACKUP_NICE ?? 10);

/**
 * Backup and restore of a database of BENCH_BACKUP_ROWS rows (default 1,000,000, in rate_limits),
 * each next to plain binary `COPY … TO STDOUT` / `COPY … FROM STDIN` of the same rows measured in
 * the same run (goal ≥ 0.5×), the backup's process's peak RSS (goal < 256 MiB), and the p99 of
 * `GET /v1/me` on the running API while a backup runs ÷ without (goal ≤ 1.5).
 */
export async function benchBackup(opts: { serverUrl: string; ownerUrl: string; dataDir: string; api?: { url: string; token: string } }): Promise<Record<string, unknown>> {
  const rows = Number(process.env.BENCH_BACKUP_ROWS ?? 1_000_000);
  const owner = new Client({ connectionString: opts.ownerUrl });
  await owner.connect();
  const backupLogin = { user: `forclinic_bench_backup_${randomBytes(4).toString('hex')}`, password: randomBytes(24).toString('hex') };
  const restoreLogin = { user: `forclinic_bench_restore_${randomBytes(4).toString('hex')}`, password: randomBytes(24).toString('hex') };
  const scratch = [`bench_anchor_${randomBytes(4).toString('hex')}`, `bench_restore_${randomBytes(4).toString('hex')}`];
  try {
    say(`backup: seeding ${rows} rows`);
    await owner.query(`insert into rate_limits (key, window_start, count) select 'bench:' || g, now() - (g || ' seconds')::interval, g from generate_series(1, $1::int) g`, [rows]);
    await owner.query('analyze');
    await provisionBackupRoles(opts.serverUrl, { backup: backupLogin, restoreTest: restoreLogin });
    const backupUrl = withLogin(opts.ownerUrl, backupLogin);
    const restoreAdmin = withLogin(withDatabase(opts.serverUrl, 'postgres'), restoreLogin);

    // Anchor: the same rows out and in with plain binary COPY, no compression or encryption.
    say('backup: anchor COPY TO / COPY FROM');
    const chunks: Buffer[] = [];
    let copied = 0;
    const copyOutSql = `copy (select key, window_start, count from rate_limits order by key, window_start) to stdout (format binary)`;
    let t = process.hrtime.bigint();
    await pipeline(owner.query(copyTo(copyOutSql)), new Writable({ write: (c: Buffer, _e, cb) => { copied += c.length; chunks.push(c); cb(); } }));
    const copyOutBeforeMs = elapsedMs(t);
    await ensureDatabase(restoreAdmin, scratch[0]!);
    const anchorUrl = withDatabase(restoreAdmin, scratch[0]!);
    await migrateTo(anchorUrl, (await owner.query('select name from knex_migrations order by id desc limit 1')).rows[0].name);
    const target = new Client({ connectionString: anchorUrl });
    await target.connect();
    t = process.hrtime.bigint();
    await target.query('alter table rate_limits no force row level security');
    const sink = target.query(copyFrom('copy rate_limits (key, window_start, count) from stdin (format binary)'));
    await pipeline(async function* () { yield* chunks; }, sink);
    const copyInMs = elapsedMs(t);
    await target.end();
    chunks.length = 0;

    const storeDir = path.join(opts.dataDir, 'bench-backups');
    const keysDir = path.join(opts.dataDir, 'bench-keys');
    /** One generation written by the real code in a process of its own, with the worker's V8 flags and its backup process's nice value. */
    const backupInChild = (id: string) => {
      const child = forkNiced(path.join(__dirname, 'bench-backup-child.ts'), [], BACKUP_NICE, {
        execArgv: [...WORKER_NODE_FLAGS, '--import', 'tsx'],
        env: { ...process.env, BENCH_BACKUP_STORE: storeDir, BENCH_BACKUP_KEYS: keysDir, BENCH_BACKUP_URL: backupUrl, BENCH_BACKUP_ID: id, BACKUP_NICE: String(BACKUP_NICE) },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      return new Promise<{ manifest: Manifest; ms: number; rssBeforeMiB: number; peakRssMiB: number; error?: string }>((resolve, reject) => {
        child.once('message', (m) => resolve(m as never));
        child.once('exit', (code) => reject(new Error(`backup child exited with ${code}`)));
      }).then((run) => {
        if (child.connected) child.disconnect();
        if (run.error) throw new Error(run.error);
        return run;
      });
    };

    // Throughput: the backup alone, as the anchor was measured (nothing else running). Timed
    // inside the child: loading its modules is not the backup.
    say('backup: writing a generation (in a process of its own)');
    const id = randomUUID();
    const run = await backupInChild(id);
    const manifest = run.manifest;
    const backupMs = run.ms;
    // The anchor again right after, into nothing: the mean of both is the anchor, so a change in
    // the machine's other load during the part moves both sides alike.
    t = process.hrtime.bigint();
    await pipeline(owner.query(copyTo(copyOutSql)), new Writable({ write: (_c, _e, cb) => cb() }));
    const copyOutMs = (copyOutBeforeMs + elapsedMs(t)) / 2;

    // Does a backup hold up the application? A user's requests (`GET /v1/me`, one after another,
    // on the API's own process) without a backup and while a second one runs, and small writes on
    // another connection (a login-throttle update).
    const writer = new Client({ connectionString: opts.ownerUrl });
    await writer.connect();
    const writes = async (until: () => boolean) => {
      const ms: number[] = [];
      for (let i = 0; !until() || ms.length < 20; i += 1) {
        const w = process.hrtime.bigint();
        await writer.query(`insert into rate_limits (key, window_start, count) values ($1, now(), 1) on conflict (key, window_start) do update set count = rate_limits.count + 1`, [`bench-live:${i % 50}`]);
        ms.push(elapsedMs(w));
      }
      return ms;
    };
    const reads = async (until: () => boolean) => {
      const ms: number[] = [];
      if (!opts.api) return ms;
      while (!until() || ms.length < 20) {
        const r = process.hrtime.bigint();
        const res = await fetch(`${opts.api.url}/v1/me`, { headers: { authorization: `Bearer ${opts.api.token}` } });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`GET /v1/me answered ${res.status}`);
        ms.push(elapsedMs(r));
      }
      return ms;
    };
    const quietStart = Date.now();
    const quietUntil = () => Date.now() - quietStart > 3_000;
    const [quiet, quietReads] = await Promise.all([writes(quietUntil), reads(quietUntil)]);
    say('backup: a second generation while a user reads and writes');
    let backupDone = false;
    const probed = backupInChild(randomUUID()).finally(() => (backupDone = true));
    const [underLoad, busy, busyReads] = await Promise.all([probed, writes(() => backupDone), reads(() => backupDone)]);
    await writer.end();
    const store = fsBackupStore(storeDir);
    const provider = localKeyProvider({ dir: keysDir });
    const totalRows = manifest.tables.reduce((n, x) => n + x.rows, 0);
    const storedBytes = manifest.tables.reduce((n, x) => n + x.object.bytes, 0);

    say('backup: restoring it into a scratch database');
    await ensureDatabase(restoreAdmin, scratch[1]!);
    const restoreUrl = withDatabase(restoreAdmin, scratch[1]!);
    // The schema first, untimed, as for the anchor: the figure compares moving the data.
    // (restoreInto migrates a target itself; here it finds it at the generation's migration.)
    t = process.hrtime.bigint();
    await migrateTo(restoreUrl, manifest.latestMigration);
    const schemaMs = elapsedMs(t);
    t = process.hrtime.bigint();
    const { dataKey } = await openGeneration(store, provider, id);
    const outcome = await restoreInto({ store, manifest, dataKey, targetUrl: restoreUrl });
    const restoreMs = elapsedMs(t);
    if (!outcome.ok) throw new Error('the restored database differs from the manifest');

    const mb = copied / 2 ** 20;
    const perSec = (ms: number) => ({ mbPerSec: round(mb / (ms / 1000)), rowsPerSec: Math.round(totalRows / (ms / 1000)) });
    return {
      backup: {
        rows: totalRows,
        copyBinaryMiB: round(mb),
        storedMiB: round(storedBytes / 2 ** 20),
        // Both alone on the machine: the backup before any probe ran, the anchor around it.
        backupVsCopyOut: compared({ ms: Math.round(backupMs), ...perSec(backupMs) }, { ms: Math.round(copyOutMs), ...perSec(copyOutMs) }, copyOutMs / backupMs, '>= 0.5', copyOutMs / backupMs >= 0.5),
        // The restore reads every table back for the checksums; the schema was made before timing, as the anchor's.
        restoreSchemaMs: Math.round(schemaMs),
        restoreVsCopyIn: compared({ ms: Math.round(restoreMs), ...perSec(restoreMs) }, { ms: Math.round(copyInMs), ...perSec(copyInMs) }, copyInMs / restoreMs, '>= 0.5', copyInMs / restoreMs >= 0.5),
        // The goal: p99 of GET /v1/me while a backup runs ÷ without, ≤ 1.5.
        ...(opts.api
          ? { meP99MsDuringBackup: compared({ p99Ms: percentile(busyReads, 99), p50Ms: percentile(busyReads, 50), requests: busyReads.length }, { p99Ms: percentile(quietReads, 99), p50Ms: percentile(quietReads, 50), requests: quietReads.length }, round(percentile(busyReads, 99) / percentile(quietReads, 99)), 'during ÷ without <= 1.5', percentile(busyReads, 99) / percentile(quietReads, 99) <= 1.5) }
          : {}),
        writeP99MsDuringBackup: compared(percentile(busy, 99), percentile(quiet, 99), round(percentile(busy, 99) / percentile(quiet, 99)), 'during ÷ without <= 1.5', percentile(busy, 99) / percentile(quiet, 99) <= 1.5),
        peakRssMiB: { before: run.rssBeforeMiB, during: Math.max(run.peakRssMiB, underLoad.peakRssMiB), backupUnderProbesMs: Math.round(underLoad.ms), goal: '< 256 (the backup\'s own process, with the worker\'s V8 flags)', met: run.peakRssMiB < 256 },
      },
    };
  } finally {
    await owner.end();
    for (const name of scratch) await dropDatabase(withLogin(withDatabase(opts.serverUrl, 'postgres'), restoreLogin), name).catch(() => undefined);
    for (const user of [backupLogin.user, restoreLogin.user]) await dropLoginRole(opts.serverUrl, user).catch(() => undefined);
  }
}
