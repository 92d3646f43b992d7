import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { call } from './harness/http';
import { eventually } from './harness/clinic';
import { createTestDatabase, type TestDatabase } from './harness/database';

/**
 * What production runs: `npm run build` (tsc to dist/ and the pre-bundled workflow code), then the
 * compiled API and worker with plain `node` — no tsx, no development dependency — serving a clinic
 * end to end on the real PostgreSQL, Temporal and SES of the test run.
 */
jest.setTimeout(300_000);
const root = path.resolve(__dirname, '..');

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

let database: TestDatabase;
const started: ChildProcess[] = [];
beforeAll(async () => {
  const built = await run('npm', ['run', '-s', 'build']);
  if (built.code !== 0) throw new Error(`npm run build failed:\n${built.output}`);
  database = await createTestDatabase();
});
afterAll(async () => {
  for (const c of started) c.kill('SIGTERM');
  await Promise.all(started.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
  await database?.drop();
});

it('loads the compiled API and worker from what `npm ci --omit=dev` installs', async () => {
  // The packages the production image has: npm's own answer, not our list.
  const listed = await run('npm', ['ls', '--omit=dev', '--all', '--parseable']);
  const production = listed.output.split('\n').filter((l) => l.includes('/node_modules/')).map((l) => `${l.trim()}/`);
  expect(production.length).toBeGreaterThan(50);
  // Fails the process at the first require() that lands in a package outside that set.
  const hook = path.join(os.tmpdir(), `no-dev-deps-${randomBytes(4).toString('hex')}.js`);
  writeFileSync(
    hook,
    `const Module = require('module'); const prod = ${JSON.stringify(production)};
     const resolve = Module._resolveFilename;
     Module._resolveFilename = function (request, ...rest) {
       const file = resolve.call(this, request, ...rest);
       if (file.includes('/node_modules/') && !prod.some((p) => file.startsWith(p))) {
         console.error('DEV DEPENDENCY ' + file + ' required as ' + request); process.exit(3);
       }
       return file;
     };`,
  );
  const loaded = await run(process.execPath, ['-r', hook, '-e', `require(${JSON.stringify(path.join(root, 'dist/api/server.js'))}); require(${JSON.stringify(path.join(root, 'dist/api/app.js'))}); require(${JSON.stringify(path.join(root, 'dist/workers/worker.js'))}); console.log('loaded')`]);
  expect(loaded.output).not.toContain('DEV DEPENDENCY');
  expect(loaded.output).toContain('loaded');
});

it('serves a clinic with `node dist/api/server.js` and `node dist/workers/main.js` on the pre-built workflow bundle', async () => {
  const operatorToken = randomBytes(32).toString('hex');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    PORT: '0',
    OPERATOR_PORT: '0',
    OPERATOR_TOKEN: operatorToken,
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: `build-${randomBytes(4).toString('hex')}`,
    SES_ENDPOINT: process.env.TEST_SES_ENDPOINT,
    KEY_PROVIDER: 'kms',
    KMS_ENDPOINT: process.env.TEST_KMS_ENDPOINT,
    LOGIN_ID_HMAC_KEY: randomBytes(32).toString('hex'),
  };
  const start = (entry: string, ready: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(root, entry)], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
      started.push(child);
      let output = '';
      const seen = (d: Buffer) => {
        output += d;
        const m = ready.exec(output);
        if (m) resolve(m);
      };
      child.stdout.on('data', seen);
      child.stderr.on('data', seen);
      child.once('exit', (code) => reject(new Error(`${entry} exited (${code}):\n${output}`)));
    });
  const [, bundle] = await start('dist/workers/main.js', /"workflowBundle":"([^"]+)"[^\n]*worker started/);
  expect(bundle).toBe(path.join(root, 'dist/workflow-bundle.js'));
  const [, url, operatorUrl] = await start('dist/api/server.js', /"url":"(http:\/\/[^"]+)","operatorUrl":"(http:\/\/[^"]+)"[^\n]*api listening/);

  expect((await call(url!, 'GET', '/readyz')).status).toBe(200);
  const slug = `built-${randomBytes(3).toString('hex')}`;
  expect((await call(url!, 'GET', '/v1/operator/tenants', { token: operatorToken })).status).toBe(404);
  const created = await call(operatorUrl!, 'POST', '/v1/operator/tenants', { token: operatorToken, json: { slug, name: 'Built Clinic', contractEmails: [`desk@${slug}.example`] } });
  expect(created.status).toBe(201);
  // The compiled worker runs the provisioning workflow from the bundle and activates the clinic.
  await eventually('the clinic is active', async () => (await call(operatorUrl!, 'GET', `/v1/operator/tenants/${created.body.id}`, { token: operatorToken })).body.status === 'active', 60_000);
});
