import { fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { createDb } from '../db/connection';
import { dropDatabase, ensureDatabase, withDatabase } from '../db/database';
import { migrateAndProvision } from '../db/migrate';
import { dropLoginRole, withLogin } from '../db/roles';
import { activateTenant } from '../db/tenants';
import { freePorts } from '../lib/process';
import { ARGON2_PARAMS } from '../lib/password-hash';
import { benchAudit, type ActiveClinic } from './bench-audit';
import { benchCrypto } from './bench-crypto';
import { benchBackup } from './bench-backup';
import { benchPurge } from './bench-purge';
import { benchExports } from './bench-exports';
import { benchCapacity } from './bench-capacity';
import { benchConsultations } from './bench-consultations';
import { benchIncidents } from './bench-incidents';
import { load as loadUrl, say } from './bench-lib';
import { benchReads } from './bench-reads';
import { startServices } from './services';

/** A clinic, activated directly (no worker runs here), with an admin who has set a password. */
async function activeClinic(api: string, opApi: string, operatorToken: string, ownerUrl: string, slug: string, password: string): Promise<ActiveClinic> {
  const op = { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' };
  const json = { 'content-type': 'application/json' };
  const tenant = (await (await fetch(`${opApi}/v1/operator/tenants`, { method: 'POST', headers: op, body: JSON.stringify({ slug, name: slug, contractEmails: [`ops@${slug}.example`] }) })).json()) as { id: string };
  const owner = createDb({ url: ownerUrl, poolMax: 1, as: 'owner' });
  await activateTenant(owner, tenant.id);
  await owner.destroy();
  const admin = (await (await fetch(`${opApi}/v1/operator/tenants/${tenant.id}/admins`, { method: 'POST', headers: op, body: JSON.stringify({ loginId: 'admin', email: `admin@${slug}.example`, displayName: 'Admin' }) })).json()) as { accountId: string; initialPassword: string };
  const first = (await (await fetch(`${api}/v1/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ tenant: slug, loginId: 'admin', password: admin.initialPassword }) })).json()) as { token: string };
  await fetch(`${api}/v1/auth/password`, { method: 'POST', headers: { ...json, authorization: `Bearer ${first.token}` }, body: JSON.stringify({ currentPassword: admin.initialPassword, newPassword: password }) });
  return { tenantId: tenant.id, adminId: admin.accountId, adminToken: first.token };
}



/**
 * `npm run bench`: prints JSON figures. Each comparison is measured in the same run on the same
 * machine, so the ratio is what to track across commits, not the absolute numbers.
 * BENCH_DURATION (s, default 10) and BENCH_CONNECTIONS (default 32) tune the load; BENCH_PARTS
 * (comma-separated, default all: server,login,reads,audit,consultations,capacity,incidents,crypto,backup,purge,exports,start) picks parts.
 * A part that fails is reported as `{ "error": … }` and the others still run (exit code 1).
 */
const root = path.resolve(__dirname, '..');
const duration = Number(process.env.BENCH_DURATION ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const ALL_PARTS = ['server', 'login', 'reads', 'audit', 'consultations', 'capacity', 'incidents', 'crypto', 'backup', 'purge', 'exports', 'start'] as const;
const parts = new Set((process.env.BENCH_PARTS ?? ALL_PARTS.join(',')).split(',').map((p) => p.trim()).filter(Boolean));
for (const p of parts) if (!(ALL_PARTS as readonly string[]).includes(p)) throw new Error(`BENCH_PARTS: unknown part "${p}" (known: ${ALL_PARTS.join(', ')})`);

const load = (name: string, url: string, headers: Record<string, string> = {}, opts: { method?: 'GET' | 'POST'; body?: string; connections?: number; expectStatus?: number | number[] } = {}) =>
  loadUrl(name, url, { duration, connections: opts.connections ?? connections, headers, method: opts.method, body: opts.body, expectStatus: opts.expectStatus });

async function coldStart(dataDir: string, label: string) {
  const [PORT, TEMPORAL_PORT, TEMPORAL_UI_PORT, MAIL_PORT, EMBEDDED_PG_PORT] = (await freePorts(5)).map(String);
  const ports = { PORT: PORT!, TEMPORAL_PORT: TEMPORAL_PORT!, TEMPORAL_UI_PORT: TEMPORAL_UI_PORT!, MAIL_PORT: MAIL_PORT!, EMBEDDED_PG_PORT: EMBEDDED_PG_PORT! };
  const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, START_QUIET: '1', LOG_LEVEL: 'warn' };
  for (const k of ['DATABASE_URL', 'MIGRATION_DATABASE_URL', 'TEMPORAL_ADDRESS', 'SES_ENDPOINT', 'OPERATOR_TOKEN']) delete env[k];
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
    // A server user that may create databases and roles (as for the tests); the app gets a login of its own.
    databaseUrl: process.env.MIGRATION_DATABASE_URL || process.env.DATABASE_URL || undefined,
    ...(([embeddedPgPort, temporalPort]) => ({ embeddedPgPort: embeddedPgPort!, temporalPort: temporalPort! }))(await freePorts(2)),
    temporalUiPort: 0,
    persist: false,
    realSes: false,
    mailPort: 0,
    log: say,
  });
  const dbName = `bench_${randomBytes(4).toString('hex')}`;
  const login = { user: `forclinic_bench_login_${randomBytes(4).toString('hex')}`, password: randomBytes(24).toString('hex') };
  const results: Record<string, unknown> = {
    machine: { cpus: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadAverage1m: Math.round(os.loadavg()[0]! * 10) / 10 },
    load: { connections, durationSec: duration },
    parts: [...parts],
    partSeconds: {} as Record<string, number>,
  };
  let failed = false;
  /** Runs one part if selected; its failure is recorded, not fatal. */
  const part = async (name: (typeof ALL_PARTS)[number], fn: () => Promise<Record<string, unknown>>) => {
    if (!parts.has(name)) return;
    const started = Date.now();
    try {
      Object.assign(results, await fn());
    } catch (err) {
      failed = true;
      say(`${name}: FAILED: ${(err as Error).message}`);
      results[`${name}Error`] = (err as Error).message.slice(0, 500);
    }
    (results.partSeconds as Record<string, number>)[name] = Math.round((Date.now() - started) / 1000);
  };
  try {
    await ensureDatabase(services.serverUrl, dbName);
    const ownerUrl = withDatabase(services.serverUrl, dbName);
    const url = withLogin(ownerUrl, login);
    await migrateAndProvision({ ownerUrl, appUrl: url, resetPassword: true, applicationName: 'for-clinic-bench' });

    const token = randomBytes(32).toString('hex');
    // Login failures are what we measure, so the per-address limit is lifted. The consultations part checks in visits four days
    // ahead (benchBookingDay): check-in opens with the video room when that is earlier than the visit's day.
    const { MIGRATION_DATABASE_URL: _owner, ...appEnv } = process.env;
    const serverEnv = { ...appEnv, KEY_STORE_DIR: path.join(dataDir, 'keys'), STORAGE_DIR: path.join(dataDir, 'objects'), DATABASE_URL: url, DATABASE_POOL_MAX: '10', OPERATOR_TOKEN: token, LOGIN_FAILURES_PER_IP: '10000', LOGIN_FAILURES_PER_ACCOUNT: '10000', LOGIN_FAILURES_PER_CLINIC: '1000000', JOIN_WINDOW_BEFORE_SECONDS: String(7 * 86_400), TEMPORAL_ADDRESS: services.temporalAddress, LOG_LEVEL: 'silent', SES_ENDPOINT: services.sesEndpoint };
    const server = fork(path.join(root, 'scripts', 'bench-server.ts'), [], {
      // BENCH_SERVER_NODE_OPTIONS: more flags for the API's process (e.g. `--cpu-prof`).
      execArgv: ['--import', 'tsx', ...(process.env.BENCH_SERVER_NODE_OPTIONS?.split(/\s+/).filter(Boolean) ?? [])],
      env: serverEnv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const { appPort, operatorPort, barePort, noAuthPort } = await new Promise<{ appPort: number; operatorPort: number; barePort: number; noAuthPort: number }>((resolve) => server.once('message', (m) => resolve(m as never)));
    try {
      const api = `http://127.0.0.1:${appPort}`;
      // Operator routes answer only on the operator listener (each request there also writes the platform log).
      const opApi = `http://127.0.0.1:${operatorPort}`;
      const created = await fetch(`${opApi}/v1/operator/tenants`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ slug: 'bench-clinic', name: 'Bench Clinic', contractEmails: ['bench@clinic.example'] }),
      });
      const tenant = (await created.json()) as { id: string };
      await part('server', async () => {
        // As automation calls it: a viewer API key (the break-glass token writes a log entry per use).
        const viewer = await fetch(`${opApi}/v1/operator/api-keys`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'bench-viewer', roles: ['viewer'], expiresInSeconds: 3_600 }),
        });
        const { key } = (await viewer.json()) as { key: string };
        await load('warm-up', `${opApi}/v1/operator/tenants/${tenant.id}`, { authorization: `Bearer ${key}` });
        const getTenant = await load('GET /v1/operator/tenants/:id', `${opApi}/v1/operator/tenants/${tenant.id}`, { authorization: `Bearer ${key}` });
        const select1 = await load('bare Koa SELECT 1', `http://127.0.0.1:${barePort}/select1`);
        return { getTenant, bareKoaSelect1: select1, getTenantToBareRatio: Math.round((getTenant.requestsPerSec / select1.requestsPerSec) * 100) / 100 };
      });

      // Identity: a clinic admin with an active password.
      const op = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      // No worker runs in the benchmark, so the clinic is activated as its provisioning would.
      const owner = createDb({ url: ownerUrl, poolMax: 1, as: 'owner' });
      await activateTenant(owner, tenant.id);
      await owner.destroy();
      const admin = (await (await fetch(`${opApi}/v1/operator/tenants/${tenant.id}/admins`, { method: 'POST', headers: op, body: JSON.stringify({ loginId: 'admin', email: 'admin@bench.example', displayName: 'Admin' }) })).json()) as { accountId: string; initialPassword: string };
      const password = 'Bench-Clinic-2026!';
      const first = (await (await fetch(`${api}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tenant: 'bench-clinic', loginId: 'admin', password: admin.initialPassword }) })).json()) as { token: string };
      await fetch(`${api}/v1/auth/password`, { method: 'POST', headers: { authorization: `Bearer ${first.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ currentPassword: admin.initialPassword, newPassword: password }) });
      const json = { 'content-type': 'application/json' };
      const loginBody = (loginId: string, pw: string) => JSON.stringify({ tenant: 'bench-clinic', loginId, password: pw });
      const adminToken = (await (await fetch(`${api}/v1/auth/login`, { method: 'POST', headers: json, body: loginBody('admin', password) })).json()) as { token: string };

      await part('login', async () => {
        const out: Record<string, unknown> = { argon2id: { ...ARGON2_PARAMS, algorithm: 'argon2id', memoryKiB: ARGON2_PARAMS.memoryCost } };
        // Throughput: four different users logging in at once (one user's logins serialise on its row).
        const users = ['admin'];
        for (const name of ['staff1', 'staff2', 'staff3']) {
          const created = (await (await fetch(`${api}/v1/accounts`, { method: 'POST', headers: { ...json, authorization: `Bearer ${adminToken.token}` }, body: JSON.stringify({ loginId: name, email: `${name}@bench.example`, displayName: name, roles: ['staff'] }) })).json()) as { initialPassword: string };
          const t = (await (await fetch(`${api}/v1/auth/login`, { method: 'POST', headers: json, body: loginBody(name, created.initialPassword) })).json()) as { token: string };
          await fetch(`${api}/v1/auth/password`, { method: 'POST', headers: { ...json, authorization: `Bearer ${t.token}` }, body: JSON.stringify({ currentPassword: created.initialPassword, newPassword: password }) });
          users.push(name);
        }
        const parallel = await Promise.all(users.map((u) => load(`POST /v1/auth/login as ${u}`, `${api}/v1/auth/login`, json, { method: 'POST', body: loginBody(u, password), connections: 1 })));
        out.loginThroughput = {
          users: users.length,
          requestsPerSec: parallel.reduce((s, r) => s + r.requestsPerSec, 0),
          worstP99Ms: Math.max(...parallel.map((r) => r.p99Ms)),
          medianP50Ms: parallel.map((r) => r.p50Ms).sort((a, b) => a - b)[Math.floor(parallel.length / 2)],
        };
        // Timing of the three failures a stranger can provoke, one at a time: they must look alike.
        // Repeated failures lock after five (423, answered without verifying): failures past that are
        // the fast path; the client's network is throttled too (429). Each is an expected answer here,
        // counted per status: before, every 401 counted as unexpected and the figure was always an error.
        const fail = (name: string, body: string) =>
          load(name, `${api}/v1/auth/login`, json, { method: 'POST', body, connections: 1, expectStatus: [401, 423, 429] }).catch((err: Error) => ({ error: err.message.slice(0, 200) }));
        out.loginFailureLatency = {
          wrongPassword: await fail('login: wrong password', loginBody('staff3', 'Wrong-password-1!')),
          unknownUser: await fail('login: unknown user', loginBody('nobody', password)),
          unknownClinic: await fail('login: unknown clinic', JSON.stringify({ tenant: 'no-such-clinic', loginId: 'admin', password })),
        };
        return out;
      });

      await part('reads', async () => {
        const session = (await (await fetch(`${api}/v1/auth/login`, { method: 'POST', headers: json, body: loginBody('admin', password) })).json()) as { token: string };
        server.send({ auth: { tenantId: tenant.id, clinic: { id: tenant.id, slug: 'bench-clinic', name: 'Bench Clinic' }, accountId: admin.accountId, sessionId: '00000000-0000-4000-8000-000000000000', loginId: 'admin', roles: ['admin'], state: 'active', displayName: 'Admin', email: 'admin@bench.example', passkeyCount: 0 } });
        return benchReads({ api, bare: `http://127.0.0.1:${barePort}`, noAuth: `http://127.0.0.1:${noAuthPort}`, token: session.token, duration, connections, cpuScope: { pids: { api: server.pid }, temporalPort: Number(services.temporalAddress.split(':').at(-1)), database: dbName } });
      });

      // Operation log and consultations: the bench clinic plus three more, each with an active admin.
      let clinics: ActiveClinic[] | undefined;
      const allClinics = async () => {
        clinics ??= [{ tenantId: tenant.id, adminId: admin.accountId, adminToken: adminToken.token }];
        for (let i = clinics.length; i <= 3; i += 1) clinics.push(await activeClinic(api, opApi, token, ownerUrl, `bench-clinic-${i}`, password));
        return clinics;
      };
      await part('audit', async () => benchAudit({ api, dbUrl: ownerUrl, serverEnv, clinics: await allClinics(), connections, duration }));
      await part('consultations', async () => {
        const c = (await allClinics())[1]!;
        return benchConsultations({ api, adminToken: c.adminToken, adminId: c.adminId, serverEnv, temporalAddress: services.temporalAddress, taskQueue: 'for-clinic', database: dbName, apiPid: server.pid });
      });
      // Many clinics at once with a clinic day's mix (README: Capacity): what one API instance serves.
      await part('capacity', async () => {
        // One connection per clinic by default: a clinic's front ends send about a request a second,
        // so contention inside one clinic (its log chain) is not what limits an instance.
        const n = Number(process.env.BENCH_CAPACITY_CLINICS ?? connections);
        const many = [...(await allClinics())];
        for (let i = many.length; i <= n; i += 1) many.push(await activeClinic(api, opApi, token, ownerUrl, `bench-clinic-${i}`, password));
        // The consultations part's clinic already has bookings in the same slots: leave it out.
        return benchCapacity({ api, clinics: many.filter((_, i) => i !== 1).slice(0, n), serverEnv, duration, connections, clinicPeakRps: Number(process.env.BENCH_CLINIC_PEAK_RPS ?? 1) });
      });
      await part('incidents', () => benchIncidents({ api: opApi, operatorToken: token, ownerUrl, sesEndpoint: services.sesEndpoint!, serverEnv, temporalAddress: services.temporalAddress }));
      // The backup while the API serves a signed-in user (GET /v1/me), whose latency is one of its figures.
      await part('backup', async () => {
        const session = (await (await fetch(`${api}/v1/auth/login`, { method: 'POST', headers: json, body: loginBody('admin', password) })).json()) as { token: string };
        return benchBackup({ serverUrl: services.serverUrl, ownerUrl, dataDir, api: { url: api, token: session.token } });
      });
    } finally {
      server.disconnect();
    }

    await part('crypto', () => benchCrypto(url, dataDir));

    await part('purge', () => benchPurge({ serverUrl: services.serverUrl, ownerUrl, appUrl: url, dataDir }));
    await part('exports', () => benchExports({ ownerUrl, appUrl: url, dataDir }));

    await part('start', async () => {
      const startDir = await mkdtemp(path.join(os.tmpdir(), 'for-clinic-bench-start-'));
      try {
        return {
          npmStartToReadyMs: {
            firstRun: await coldStart(startDir, 'first run: initdb, empty Temporal store'),
            restart: await coldStart(startDir, 'restart on existing data'),
          },
        };
      } finally {
        await rm(startDir, { recursive: true, force: true });
      }
    });
  } finally {
    await dropDatabase(services.serverUrl, dbName).catch(() => undefined);
    await dropLoginRole(services.serverUrl, login.user).catch(() => undefined);
    await services.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(results, null, 2));
  if (failed) process.exitCode = 1;
}

main().catch((err) => {
  console.error(`[bench] FAILED: ${(err as Error).message}`);
  process.exit(1);
});
