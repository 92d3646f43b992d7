import { fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { createDb, migrateLatest } from '../db/connection';
import { dropDatabase, ensureDatabase, withDatabase } from '../db/database';
import { activateTenant } from '../db/tenants';
import { freePort } from '../lib/process';
import { ARGON2_PARAMS } from '../lib/password-hash';
import { benchAudit, type ActiveClinic } from './bench-audit';
import { benchCrypto } from './bench-crypto';
import { benchConsultations } from './bench-consultations';
import { startServices } from './services';

/** A clinic, activated directly (no worker runs here), with an admin who has set a password. */
async function activeClinic(api: string, operatorToken: string, dbUrl: string, slug: string, password: string): Promise<ActiveClinic> {
  const op = { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' };
  const json = { 'content-type': 'application/json' };
  const tenant = (await (await fetch(`${api}/v1/operator/tenants`, { method: 'POST', headers: op, body: JSON.stringify({ slug, name: slug, contractEmails: [`ops@${slug}.example`] }) })).json()) as { id: string };
  const owner = createDb({ url: dbUrl, poolMax: 1, as: 'owner' });
  await activateTenant(owner, tenant.id);
  await owner.destroy();
  const admin = (await (await fetch(`${api}/v1/operator/tenants/${tenant.id}/admins`, { method: 'POST', headers: op, body: JSON.stringify({ loginId: 'admin', email: `admin@${slug}.example`, displayName: 'Admin' }) })).json()) as { accountId: string; initialPassword: string };
  const first = (await (await fetch(`${api}/v1/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ tenant: slug, loginId: 'admin', password: admin.initialPassword }) })).json()) as { token: string };
  await fetch(`${api}/v1/auth/password`, { method: 'POST', headers: { ...json, authorization: `Bearer ${first.token}` }, body: JSON.stringify({ currentPassword: admin.initialPassword, newPassword: password }) });
  return { tenantId: tenant.id, adminId: admin.accountId, adminToken: first.token };
}



/**
 * `npm run bench`: prints JSON figures. Each comparison is measured in the same run on the same
 * machine, so the ratio is what to track across commits, not the absolute numbers.
 * BENCH_DURATION (s, default 10) and BENCH_CONNECTIONS (default 32) tune the load.
 */
const root = path.resolve(__dirname, '..');
const say = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const duration = Number(process.env.BENCH_DURATION ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);

async function load(
  name: string,
  url: string,
  headers: Record<string, string> = {},
  opts: { method?: 'GET' | 'POST'; body?: string; connections?: number; expectStatus?: number } = {},
) {
  const conns = opts.connections ?? connections;
  say(`${name}: ${conns} connections for ${duration} s`);
  const r = await autocannon({ url, connections: conns, duration, headers, method: opts.method ?? 'GET', body: opts.body });
  const unexpected = opts.expectStatus ? r.requests.total - ((r.statusCodeStats as Record<string, { count: number }>)[String(opts.expectStatus)]?.count ?? 0) : r.non2xx;
  if (unexpected || r.errors) throw new Error(`${name}: ${unexpected} unexpected answers, ${r.errors} errors`);
  return { requestsPerSec: Math.round(r.requests.average), p50Ms: r.latency.p50, p99Ms: r.latency.p99, requests: r.requests.total };
}

async function coldStart(dataDir: string, label: string) {
  const ports = { PORT: await freePort(), TEMPORAL_PORT: await freePort(), TEMPORAL_UI_PORT: await freePort(), MAIL_PORT: await freePort(), EMBEDDED_PG_PORT: await freePort() };
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, START_QUIET: '1', LOG_LEVEL: 'warn' };
  for (const k of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'SES_ENDPOINT', 'OPERATOR_TOKEN']) delete env[k];
  for (const [k, v] of Object.entries(ports)) env[k] = String(v);
  say(`npm start (${label})...`);
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'start.ts')], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d;
      if (out.includes('[start] ready')) resolve();
      if (out.includes('FAILED')) reject(new Error(out));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const ready = await fetch(`http://127.0.0.1:${ports.PORT}/readyz`);
  if (ready.status !== 200) throw new Error('readyz not 200 after ready');
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  return Math.round(ms);
}

async function main() {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'for-clinic-bench-'));
  const services = await startServices({
    dataDir,
    databaseUrl: process.env.DATABASE_URL || undefined,
    embeddedPgPort: await freePort(),
    temporalPort: await freePort(),
    temporalUiPort: 0,
    persistTemporal: false,
    realSes: false,
    mailPort: 0,
    log: say,
  });
  const dbName = `bench_${randomBytes(4).toString('hex')}`;
  const results: Record<string, unknown> = {
    machine: { cpus: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    load: { connections, durationSec: duration },
  };
  try {
    await ensureDatabase(services.serverUrl, dbName);
    const url = withDatabase(services.serverUrl, dbName);
    const db = createDb({ url, poolMax: 1, as: 'owner' });
    await migrateLatest(db);
    await db.destroy();

    const token = randomBytes(32).toString('hex');
    // Login failures are what we measure, so the per-address limit is lifted.
    const serverEnv = { ...process.env, KEY_STORE_DIR: path.join(dataDir, 'keys'), STORAGE_DIR: path.join(dataDir, 'objects'), DATABASE_URL: url, DATABASE_POOL_MAX: '10', OPERATOR_TOKEN: token, LOGIN_FAILURES_PER_IP: '100000000', TEMPORAL_ADDRESS: services.temporalAddress, LOG_LEVEL: 'silent', SES_ENDPOINT: services.sesEndpoint };
    const server = fork(path.join(root, 'scripts', 'bench-server.ts'), [], {
      execArgv: ['--import', 'tsx'],
      env: serverEnv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const { appPort, barePort, noAuthPort } = await new Promise<{ appPort: number; barePort: number; noAuthPort: number }>((resolve) => server.once('message', (m) => resolve(m as never)));
    try {
      const api = `http://127.0.0.1:${appPort}`;
      const created = await fetch(`${api}/v1/operator/tenants`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ slug: 'bench-clinic', name: 'Bench Clinic', contractEmails: ['bench@clinic.example'] }),
      });
      const tenant = (await created.json()) as { id: string };
      await load('warm-up', `${api}/v1/operator/tenants/${tenant.id}`, { authorization: `Bearer ${token}` });
      const password = 'Bench-Clinic-2026!';
      // Operation log: the bench clinic plus three more, each with an active admin.
      const clinics: ActiveClinic[] = [];
      for (let i = 0; i <= 1; i += 1) clinics.push(await activeClinic(api, token, url, `bench-clinic-${i}`, password));
      Object.assign(
        results,
        await benchConsultations({ api, adminToken: clinics[1]!.adminToken, adminId: clinics[1]!.adminId, serverEnv, temporalAddress: services.temporalAddress, taskQueue: 'for-clinic' }),
      );
    } finally {
      server.disconnect();
    }

  } finally {
    await dropDatabase(services.serverUrl, dbName).catch(() => undefined);
    await services.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(results, null, 2));
}

main().catch((err) => {
  console.error(`[bench] FAILED: ${(err as Error).message}`);
  process.exit(1);
});
