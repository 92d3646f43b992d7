import { execFile, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import { recordAudit, type AuditContext } from '../db/audit';
import { createDb } from '../db/connection';
import { createGroup } from '../db/groups';
import { withTenant } from '../db/tenant-scope';
import { compared, elapsedMs, percentile, round, say } from './bench-lib';

/**
 * Operation-log figures for `npm run bench`: entries written per second (one clinic, several
 * clinics); what one entry adds to a request's transaction; and a CSV export of
 * BENCH_AUDIT_ROWS rows (default 1,000,000): rows/s and the API process's peak RSS, next to
 * psql's COPY of the same rows.
 */
const run = promisify(execFile);

export interface ActiveClinic {
  tenantId: string;
  adminId: string;
  adminToken: string;
}

async function writeLoad(api: string, clinics: ActiveClinic[], connections: number, duration: number) {
  const runs = await Promise.all(
    clinics.map((c) =>
      autocannon({
        // Each request creates a uniquely named group: one row and one log entry, no shared row.
        url: `${api}/v1/groups`,
        method: 'POST',
        requests: [{ setupRequest: (req: object) => ({ ...req, body: JSON.stringify({ name: `group-${randomUUID()}` }) }) }],
        connections: Math.max(1, Math.floor(connections / clinics.length)),
        duration,
        headers: { authorization: `Bearer ${c.adminToken}`, 'content-type': 'application/json' },
      }),
    ),
  );
  for (const r of runs) if (r.non2xx || r.errors) throw new Error(`audit write load: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return {
    clinics: clinics.length,
    entriesPerSec: runs.reduce((s, r) => s + Math.round(r.requests.average), 0),
    p99Ms: Math.max(...runs.map((r) => r.latency.p99)),
  };
}

const peakRssMiB = (pid: number) => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : null;
};

/**
 * The cost of `recordAudit` inside a request's transaction. The transaction is what POST
 * /v1/groups runs (scope the clinic, insert a group, write its entry, commit); the anchor is the
 * same transaction without the entry. One at a time (the entry's own cost; alternating, so drift
 * hits both alike), then 8 writers in one clinic at once (where the clinic's chain head, held
 * from the entry's insert to commit, makes writers queue).
 */
async function writeOverhead(appUrl: string, tenantId: string, accountId: string) {
  // The application's login, as requests use it (the owner's URL is refused for 'app' pools).
  const db = createDb({ url: appUrl, poolMax: 8 });
  const audit: AuditContext = { actorType: 'account', actorId: accountId, actorRoles: ['admin'], clientIp: '203.0.113.7', userAgent: 'bench/1.0', requestId: randomUUID() };
  const callMs: number[] = [];
  const request = (withEntry: boolean) =>
    withTenant(db, tenantId, async (trx) => {
      const group = await createGroup(trx, { name: `overhead-${randomUUID()}`, memberIds: [] });
      if (!withEntry) return;
      const s = process.hrtime.bigint();
      await recordAudit(trx, audit, { action: 'group.create', outcome: 'success', targetType: 'group', targetId: group.id, details: { members: 0 } });
      callMs.push(elapsedMs(s));
    });
  try {
    for (let i = 0; i < 50; i += 1) await request(i % 2 === 0); // warm every connection and plan
    callMs.length = 0;
    const N = Number(process.env.BENCH_AUDIT_OVERHEAD_N ?? 400);
    say(`audit: recordAudit cost, ${N} request transactions with and ${N} without, one at a time`);
    const txn: Record<'with' | 'without', number[]> = { with: [], without: [] };
    for (let i = 0; i < 2 * N; i += 1) {
      const withEntry = i % 2 === 1;
      const s = process.hrtime.bigint();
      await request(withEntry);
      txn[withEntry ? 'with' : 'without'].push(elapsedMs(s));
    }
    const sequential = {
      recordAuditCallP50Ms: percentile(callMs, 50),
      recordAuditCallP99Ms: percentile(callMs, 99),
      transactionWithEntryP50Ms: percentile(txn.with, 50),
      transactionWithoutEntryP50Ms: percentile(txn.without, 50),
    };
    say('audit: the same with 8 writers in one clinic');
    const concurrent: Record<string, { perSec: number; p50Ms: number; p99Ms: number }> = {};
    for (const withEntry of [false, true]) {
      const times: number[] = [];
      let next = 0;
      const started = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < N) {
            next += 1;
            const s = process.hrtime.bigint();
            await request(withEntry);
            times.push(elapsedMs(s));
          }
        }),
      );
      concurrent[withEntry ? 'withEntry' : 'withoutEntry'] = { perSec: Math.round(N / (elapsedMs(started) / 1000)), p50Ms: percentile(times, 50), p99Ms: percentile(times, 99) };
    }
    return {
      auditWriteOverhead: {
        ...compared(
          { recordAuditP50Ms: sequential.recordAuditCallP50Ms, transactionWithEntryP50Ms: sequential.transactionWithEntryP50Ms },
          { transactionWithoutEntryP50Ms: sequential.transactionWithoutEntryP50Ms },
          sequential.transactionWithEntryP50Ms / sequential.transactionWithoutEntryP50Ms,
          'recordAudit p50 < 1 ms inside the transaction',
          sequential.recordAuditCallP50Ms < 1,
        ),
        recordAuditP99Ms: sequential.recordAuditCallP99Ms,
        eightWritersOneClinic: { ...concurrent, throughputRatio: round(concurrent.withEntry!.perSec / concurrent.withoutEntry!.perSec) },
      },
    };
  } finally {
    await db.destroy();
  }
}

export async function benchAudit(opts: {
  api: string;
  dbUrl: string;
  serverEnv: NodeJS.ProcessEnv;
  clinics: ActiveClinic[];
  connections: number;
  duration: number;
}) {
  const results: Record<string, unknown> = {};
  say('audit: writes in one clinic');
  results.auditWritesOneClinic = await writeLoad(opts.api, opts.clinics.slice(0, 1), opts.connections, opts.duration);
  say(`audit: writes across ${opts.clinics.length} clinics`);
  results.auditWritesAcrossClinics = await writeLoad(opts.api, opts.clinics, opts.connections, opts.duration);
  Object.assign(results, await writeOverhead(opts.serverEnv.DATABASE_URL!, opts.clinics[0]!.tenantId, opts.clinics[0]!.adminId));

  // Seed the export clinic's log directly (chain trigger off: the export does not verify).
  const rows = Number(process.env.BENCH_AUDIT_ROWS ?? 1_000_000);
  const target = opts.clinics[0]!;
  const owner = createDb({ url: opts.dbUrl, poolMax: 1, as: 'owner' });
  say(`audit: seeding ${rows} log entries`);
  await owner.raw(`alter table audit_events disable trigger audit_events_chain`);
  await owner.raw(
    `insert into audit_events (tenant_id, occurred_at, actor_type, actor_id, actor_roles, action, target_type, target_id,
       outcome, client_ip, user_agent, request_id, details, seq, prev_hash, hash)
     select ?, now() - interval '1 day' + g * interval '1 millisecond', 'account', ?, '{staff}', 'patient.read', 'patient',
       gen_random_uuid()::text, 'success', '203.0.113.7', 'Mozilla/5.0 (bench)', gen_random_uuid()::text,
       jsonb_build_object('n', g), 1000000000 + g, '\\x00', sha256(int8send(g))
     from generate_series(1, ?) g`,
    [target.tenantId, target.adminId, rows],
  );
  await owner.raw(`alter table audit_events enable trigger audit_events_chain`);
  await owner.raw('analyze audit_events');

  // The anchor: psql's COPY of the same rows into /dev/null, once before and once after the
  // export (the machine's other load drifts; the mean of the two is what the export is judged by).
  const psqlCopySeconds = async () => {
    say('audit: the same rows through psql COPY');
    const started = process.hrtime.bigint();
    const sql = `\\copy (select seq, occurred_at, actor_type, actor_id, actor_roles, action, target_type, target_id, outcome, host(client_ip), user_agent, request_id, details, encode(hash, 'hex') from audit_events where tenant_id = '${target.tenantId}' order by seq) to '/dev/null' with csv header`;
    await run('psql', [opts.dbUrl, '-v', 'ON_ERROR_STOP=1', '-c', sql], { maxBuffer: 1 << 20 });
    return Number(process.hrtime.bigint() - started) / 1e9;
  };
  let copySeconds: number[] = [];
  try {
    copySeconds.push(await psqlCopySeconds());
  } catch (err) {
    results.csvExportAnchor = `psql COPY skipped: ${(err as Error).message.split('\n')[0]}`;
    copySeconds = [];
  }

  // A fresh API process as it ships: compiled as `npm run build` compiles it and started as the
  // image starts it (`node dist/api/server.js`), so its peak RSS is the
  // export's in the process that serves clinics — not bench-server.ts, which hosts the app three
  // times under tsx (whose in-process compiler alone holds about 25 MiB).
  say('audit: compiling the API (tsc -p tsconfig.build.json, as npm run build does)');
  const root = path.join(__dirname, '..');
  await run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, maxBuffer: 1 << 24 });
  const server = fork(path.join(root, 'dist', 'api', 'server.js'), [], {
    // The compiled entry with the bench's configuration: NODE_ENV=production would also demand
    // TLS (or a trusted proxy) and the shared secrets, none of which changes what the process holds.
    env: { ...opts.serverEnv, PORT: '0', OPERATOR_PORT: '0', LOG_LEVEL: 'info' },
    // Plain node: fork would otherwise pass on this process's flags, which load tsx (+14 MiB).
    execArgv: [],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const apiUrl = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout!.on('data', (d: Buffer) => {
      out = (out + d).slice(-4000); // it logs as it serves: keep only the tail
      const m = /"url":"(http:\/\/[^"]+)"[^\n]*api listening/.exec(out);
      if (m) resolve(m[1]!);
    });
    server.once('exit', (code) => reject(new Error(`the API process for the CSV export exited (${code}): ${out.slice(-500)}`)));
  });
  let csv: { rows: number; seconds: number; rowsPerSec: number; megabytes: number; apiPeakRssMiB: number | null; apiRssBeforeMiB: number | null };
  try {
    const before = peakRssMiB(server.pid!);
    say('audit: CSV export through the API');
    const started = process.hrtime.bigint();
    const res = await fetch(`${apiUrl}/v1/audit-logs.csv`, { headers: { authorization: `Bearer ${target.adminToken}` } });
    let bytes = 0;
    let lines = 0;
    if (res.status !== 200) throw new Error(`CSV export: ${res.status} ${await res.text()}`);
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      // Counting must cost the client little: the anchor (psql into /dev/null) counts nothing.
      const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      for (let i = buf.indexOf(0x0a); i !== -1; i = buf.indexOf(0x0a, i + 1)) lines += 1;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const exported = lines - 1;
    csv = {
      rows: exported,
      seconds: round(seconds, 1),
      rowsPerSec: Math.round(exported / seconds),
      megabytes: Math.round(bytes / 2 ** 20),
      apiPeakRssMiB: peakRssMiB(server.pid!),
      apiRssBeforeMiB: before,
    };
  } finally {
    // The API shuts down on SIGTERM as it does in production; wait so its pool is closed before the bench goes on.
    if (server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
  }
  if (copySeconds.length > 0) copySeconds.push(await psqlCopySeconds());
  if (copySeconds.length === 0) {
    results.csvExport = csv;
  } else {
    const mean = copySeconds.reduce((a, b) => a + b, 0) / copySeconds.length;
    const psqlCopy = { rows, seconds: copySeconds.map((x) => round(x, 1)), rowsPerSec: Math.round(rows / mean) };
    const ratio = csv.rowsPerSec / psqlCopy.rowsPerSec;
    results.csvExport = compared(csv, psqlCopy, ratio, 'ratio >= 0.5 and API peak RSS < 200 MiB', ratio >= 0.5 && (csv.apiPeakRssMiB ?? Infinity) < 200);
  }
  await owner.destroy();
  return results;
}
