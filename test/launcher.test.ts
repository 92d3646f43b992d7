import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { Client as PgClient } from 'pg';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { freePorts, isPortOpen } from '../lib/process';
import { tenantProvisioningWorkflowId } from '../temporal/workflow-ids';
import { call } from './harness/http';

/**
 * `npm start` as a new user runs it: nothing external configured, so it starts embedded
 * PostgreSQL, the Temporal dev server, local SES, the worker and the API by itself; then a
 * clinic is created through the operator API; then SIGTERM stops every process it started.
 * In between, the worker, the API, the Temporal dev server and PostgreSQL are each SIGKILLed and
 * must come back (the launcher supervises them, lib/supervisor.ts).
 */
jest.setTimeout(300_000);

describe('npm start', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'for-clinic-launcher-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  /**
   * `viaNpm`: as a user runs it, through `npm start`, so that the SIGTERM goes to npm (which
   * passes it to its script's process: the script must `exec` the launcher, or sh takes the
   * signal, dies and leaves the launcher and its whole stack running).
   */
  async function launch(ports: Record<string, number>, more: Record<string, string> = {}, viaNpm = false) {
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, START_QUIET: '1', LOG_LEVEL: 'warn' };
    for (const k of ['DATABASE_URL', 'MIGRATION_DATABASE_URL', 'TEMPORAL_ADDRESS', 'SES_ENDPOINT', 'OPERATOR_TOKEN', 'AWS_ACCESS_KEY_ID', 'AWS_PROFILE']) delete env[k];
    for (const [k, v] of Object.entries(ports)) env[k] = String(v);
    Object.assign(env, more);
    const npm = process.env.npm_execpath;
    const [command, args] = !viaNpm
      ? [process.execPath, ['--import', 'tsx', path.join(__dirname, '..', 'scripts', 'start.ts')]]
      : npm && /\.[cm]?js$/.test(npm)
        ? [process.execPath, [npm, 'start']]
        : ['npm', ['start']];
    const child = spawn(command, args, {
      cwd: path.join(__dirname, '..'),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const state = { output: '' };
    child.stdout.on('data', (d) => (state.output += d));
    child.stderr.on('data', (d) => (state.output += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const ready = new Promise<void>((resolve, reject) => {
      const check = () => {
        if (state.output.includes('[start] ready')) resolve();
        else if (/FAILED|all stopped/.test(state.output)) reject(new Error(`launcher failed:\n${state.output}`));
      };
      child.stdout.on('data', check);
      child.stderr.on('data', check);
      void exited.then(() => reject(new Error(`launcher exited early:\n${state.output}`)));
    });
    return { child, state, exited, ready };
  }

  /** Resolves once the launcher printed `text` (or, with `probe`, once the probe holds), polling both. */
  async function until(state: { output: string }, text: string, probe?: () => Promise<boolean>) {
    const deadline = Date.now() + 90_000;
    while (!(probe ? await probe() : state.output.includes(text))) {
      if (Date.now() > deadline) throw new Error(`never saw "${text}":\n${state.output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  const newPorts = async () => {
    // All different (freePort asked six times can repeat one, and the stack then fails to start).
    const [PORT, OPERATOR_PORT, TEMPORAL_PORT, TEMPORAL_UI_PORT, MAIL_PORT, EMBEDDED_PG_PORT] = await freePorts(6);
    return { PORT: PORT!, OPERATOR_PORT: OPERATOR_PORT!, TEMPORAL_PORT: TEMPORAL_PORT!, TEMPORAL_UI_PORT: TEMPORAL_UI_PORT!, MAIL_PORT: MAIL_PORT!, EMBEDDED_PG_PORT: EMBEDDED_PG_PORT! };
  };

  it('npm start brings the whole stack up, restarts what dies, serves a clinic, and shuts everything down on SIGTERM to npm', async () => {
    const ports = await newPorts();
    const { child, state, exited, ready } = await launch(ports, {}, true);
    try {
      await ready;
      const output = state.output;

      // The banner tells the user where everything is.
      expect(output).toContain(`API:            http://localhost:${ports.PORT}`);
      expect(output).toContain(`Operator API:   http://127.0.0.1:${ports.OPERATOR_PORT}`);
      expect(output).toContain(`Temporal UI:    http://localhost:${ports.TEMPORAL_UI_PORT}`);
      expect(output).toContain(`Mail viewer:    http://localhost:${ports.MAIL_PORT}`);
      const token = /Operator token: ([0-9a-f]{64}) \(generated/.exec(output)?.[1];
      expect(token).toBeDefined();

      // Supervision: whatever dies is restarted by the launcher, which says so; the stack goes on.
      const pidOf = async (name: string) => {
        const recorded = JSON.parse(await readFile(path.join(dataDir, 'run', 'launcher.json'), 'utf8')) as { children: { name: string; pid: number }[] };
        return recorded.children.find((c) => c.name === name)!.pid;
      };
      const readyz = async () => {
        const reply = await fetch(`http://127.0.0.1:${ports.PORT}/readyz`).catch(() => undefined);
        return reply && { status: reply.status, body: (await reply.json()) as { checks: Record<string, string> } };
      };
      // A crashed worker and API.
      for (const name of ['worker', 'api']) {
        process.kill(await pidOf(name), 'SIGKILL');
        await until(state, `${name}: restarted`);
      }
      expect(state.output).toMatch(/worker exited unexpectedly \(signal SIGKILL\) after [\d.]+ s; restarting it in 1 s \(attempt 1 of 5\)/);
      await until(state, 'api: ready', async () => (await readyz())?.status === 200);

      // The embedded server's superuser has a generated password; one left at the old fixed
      // 'postgres' (a data folder of an earlier version) is replaced at the next start, below.
      const fixed = `postgres://postgres:postgres@127.0.0.1:${ports.EMBEDDED_PG_PORT}/postgres`;
      const connects = async (url: string) => {
        const client = new PgClient({ connectionString: url });
        return client.connect().then(() => client.end().then(() => true), () => false);
      };
      expect(await connects(fixed)).toBe(false);
      const owner = new PgClient({ connectionString: (await readFile(path.join(dataDir, 'owner-database-url'), 'utf8')).trim() });
      await owner.connect();
      await owner.query(`alter role postgres password 'postgres'`);
      await owner.end();
      expect(await connects(fixed)).toBe(true);

      // A dead Temporal dev server and embedded PostgreSQL: /readyz names it while it is down
      // (the backoff keeps it down for at least a second), and the API reconnects by itself after.
      for (const [name, recorded, check] of [['Temporal', 'temporal', 'temporal'], ['PostgreSQL', 'postgres', 'postgres']] as const) {
        process.kill(await pidOf(recorded), 'SIGKILL');
        await until(state, `${name} down`, async () => (await readyz())?.body.checks[check] === 'failing');
        await until(state, `${name}: restarted`);
        await until(state, `${name} back`, async () => (await readyz())?.status === 200);
        expect(state.output).toMatch(new RegExp(`${name} exited unexpectedly \\(signal SIGKILL\\) after [\\d.]+ s; restarting it in 1 s`));
      }

      expect(await connects(fixed)).toBe(false);
      expect((await fetch(`http://127.0.0.1:${ports.TEMPORAL_UI_PORT}/`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${ports.MAIL_PORT}/`)).status).toBe(200);
      const api = `http://127.0.0.1:${ports.PORT}`;
      expect((await call(api, 'GET', '/readyz')).status).toBe(200);
      const operatorApi = `http://127.0.0.1:${ports.OPERATOR_PORT}`;
      expect((await call(api, 'GET', '/v1/operator/tenants', { token })).status).toBe(404);
      const created = await call(operatorApi, 'POST', '/v1/operator/tenants', {
        token,
        json: { slug: 'launcher-clinic', name: 'Launcher Clinic', contractEmails: ['desk@launcher.example'] },
      });
      expect(created.status).toBe(201);
      // The worker started by the launcher provisions the clinic and mails its contract address.
      const connection = await Connection.connect({ address: `127.0.0.1:${ports.TEMPORAL_PORT}` });
      try {
        const handle = new Client({ connection }).workflow.getHandle(tenantProvisioningWorkflowId(created.body.id));
        expect(await handle.result()).toMatchObject({ welcomeEmailsSent: 1 });
      } finally {
        await connection.close();
      }
      expect((await call(operatorApi, 'GET', `/v1/operator/tenants/${created.body.id}`, { token })).body.status).toBe('active');
      const store = (await (await fetch(`http://127.0.0.1:${ports.MAIL_PORT}/store`)).json()) as { emails: { destination: { to: string[] } }[] };
      expect(store.emails.map((e) => e.destination.to[0])).toContain('desk@launcher.example');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(state.output).toContain('[start] all stopped');
    // What the stack wrote (database, keys, mails, logs) is readable by its owner alone (under
    // root the folder itself is 0711, so that the postgres user reaches its own folder in it).
    const open: string[] = [];
    for (const entry of await readdir(dataDir, { recursive: true, withFileTypes: true })) {
      const file = path.join(entry.parentPath, entry.name);
      if (!entry.isSymbolicLink() && ((await stat(file)).mode & 0o077) !== 0) open.push(file);
    }
    expect(open).toEqual([]);
    expect((await stat(path.join(dataDir, 'mail'))).mode & 0o777).toBe(0o700);
    // Nothing it started is left listening.
    for (const [name, port] of Object.entries(ports)) {
      expect([name, await isPortOpen(port)]).toEqual([name, false]);
    }
  });

  it('cleans up after a launcher that was killed outright, on the next start', async () => {
    const ports = await newPorts();
    const first = await launch(ports);
    await first.ready;
    first.child.kill('SIGKILL');
    await first.exited;
    // Its Temporal server and PostgreSQL outlived it...
    expect(await isPortOpen(ports.TEMPORAL_PORT)).toBe(true);
    const second = await launch(ports);
    await second.ready;
    expect(second.state.output).toMatch(/cleaned up [1-9] process/);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    for (const [name, port] of Object.entries(ports)) expect([name, await isPortOpen(port)]).toEqual([name, false]);
  });

  it('gives up on a child that keeps crashing at once, stops the stack and exits with 1', async () => {
    const ports = await newPorts();
    // A configuration the launcher does not read but the API and the worker refuse: they exit at once, every time.
    const { state, exited, ready } = await launch(ports, { LOG_LEVEL: 'not-a-level' });
    ready.catch(() => undefined); // it never gets ready: that is the point
    expect(await exited).toBe(1);
    expect(state.output).toMatch(/(api|worker) exited unexpectedly \(exit code 1\) after [\d.]+ s; restarting it in 16 s \(attempt 5 of 5\)/);
    expect(state.output).toMatch(/(api|worker) crashed 6 times in a row, each within 30 s of starting \(last: exited unexpectedly \(exit code 1\) after [\d.]+ s\); giving up; stopping the stack/);
    expect(state.output).toContain('[start] all stopped');
    for (const [name, port] of Object.entries(ports)) expect([name, await isPortOpen(port)]).toEqual([name, false]);
  });
});
