import { execFile, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import { createDb } from '../db/connection';

/**
 * Operation-log figures for `npm run bench`: entries written per second (one clinic, several
 * clinics), and a CSV export of BENCH_AUDIT_ROWS rows (default 1,000,000): rows/s and the API
 * process's peak RSS, next to psql's COPY of the same rows.
 */
const run = promisify(execFile);
const say = (m: string) => process.stderr.write(`[bench] ${m}\n`);

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

  // A fresh API process, so its peak RSS is the export's.
  const server = fork(path.join(__dirname, 'bench-server.ts'), [], { execArgv: ['--import', 'tsx'], env: opts.serverEnv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { appPort } = await new Promise<{ appPort: number }>((resolve) => server.once('message', (m) => resolve(m as never)));
  try {
    const before = peakRssMiB(server.pid!);
    say('audit: CSV export through the API');
    const started = process.hrtime.bigint();
    const res = await fetch(`http://127.0.0.1:${appPort}/v1/audit-logs.csv`, { headers: { authorization: `Bearer ${target.adminToken}` } });
    let bytes = 0;
    let lines = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      for (const b of chunk) if (b === 0x0a) lines += 1;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const exported = lines - 1;
    results.csvExport = {
      rows: exported,
      seconds: Math.round(seconds * 10) / 10,
      rowsPerSec: Math.round(exported / seconds),
      megabytes: Math.round(bytes / 2 ** 20),
      apiPeakRssMiB: peakRssMiB(server.pid!),
      apiRssBeforeMiB: before,
    };
  } finally {
    server.disconnect();
  }

  try {
    say('audit: the same rows through psql COPY');
    const started = process.hrtime.bigint();
    const sql = `\\copy (select seq, occurred_at, actor_type, actor_id, actor_roles, action, target_type, target_id, outcome, host(client_ip), user_agent, request_id, details, encode(hash, 'hex') from audit_events where tenant_id = '${target.tenantId}' order by seq) to '/dev/null' with csv header`;
    await run('psql', [opts.dbUrl, '-v', 'ON_ERROR_STOP=1', '-c', sql], { maxBuffer: 1 << 20 });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const copyRate = Math.round(rows / seconds);
    results.psqlCopy = { rows, seconds: Math.round(seconds * 10) / 10, rowsPerSec: copyRate };
    results.csvExportToCopyRatio = Math.round(((results.csvExport as { rowsPerSec: number }).rowsPerSec / copyRate) * 100) / 100;
  } catch (err) {
    results.psqlCopy = `skipped: ${(err as Error).message.split('\n')[0]}`;
  }
  await owner.destroy();
  return results;
}
