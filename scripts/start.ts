import { randomBytes } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Client } from 'pg';
import { ensureDatabase, withDatabase } from '../db/database';
import { embeddedLogin, localSecret } from '../db/embedded-postgres';
import { migrateAndProvision } from '../db/migrate';
import { provisionBackupRoles } from '../db/backup-roles';
import { provisionPurgeLogin } from '../db/purge-role';
import { loginOf, withLogin } from '../db/roles';
import { ConfigError, loadMigrationConfig } from '../lib/config';
import { startProcess, waitFor } from '../lib/process';
import { supervise, supervisedProcess, type SupervisedProcess, type Supervisor } from '../lib/supervisor';
import { WORKER_NODE_FLAGS } from '../workers/node-flags';
import { dataDirOf, recordDevOwnerUrl } from './dev-owner-url';
import { forgetProcesses, reapOrphans, recordProcesses } from './orphans';
import { startServices, type Services } from './services';

/**
 * `npm start`: the whole stack on one machine with embedded defaults — PostgreSQL, the Temporal
 * dev server with its UI, a local SES with its mail viewer, then the worker and the API.
 * Anything pointed elsewhere by DATABASE_URL (with MIGRATION_DATABASE_URL), TEMPORAL_ADDRESS or
 * SES_ENDPOINT is used instead. Ctrl-C / SIGTERM stops everything it started, newest first.
 */
const root = path.resolve(__dirname, '..');
const env = process.env;
const say = (m: string) => console.log(`[start] ${m}`);
const num = (name: string, fallback: number) => {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    console.error(`[start] ${name}=${v} is not a port number`);
    process.exit(1);
  }
  return n;
};

let shutdown: (code: number) => Promise<void> = async (code) => process.exit(code);

async function main() {
  // The data folder holds clinics' data in the clear (the embedded database, the local key
  // service's keys, the mails, the logs): only this user may read it. The mask is inherited by
  // every process started from here, so what they create is theirs alone too; the chmod covers
  // a folder an earlier version made world-readable.
  process.umask(0o077);
  const dataDir = dataDirOf(env, root);
  await mkdir(path.join(dataDir, 'logs'), { recursive: true });
  await chmod(dataDir, 0o700);
  const port = num('PORT', 3000);
  const operatorPort = num('OPERATOR_PORT', 3001);
  const operatorToken = env.OPERATOR_TOKEN || randomBytes(32).toString('hex');
  // An external PostgreSQL needs both credentials: the owner's for migrations, the login for the rest.
  let external: { MIGRATION_DATABASE_URL: string; DATABASE_URL: string } | undefined;
  if (env.DATABASE_URL || env.MIGRATION_DATABASE_URL) {
    const database = loadMigrationConfig(env);
    if (!database.DATABASE_URL) {
      throw new ConfigError(['DATABASE_URL: is required with MIGRATION_DATABASE_URL (the application\'s login role); set neither for the embedded PostgreSQL']);
    }
    external = { MIGRATION_DATABASE_URL: database.MIGRATION_DATABASE_URL, DATABASE_URL: database.DATABASE_URL };
  }
  let services: Services | undefined;
  const apps: Array<{ name: string; supervisor: Supervisor<SupervisedProcess> }> = [];
  let stopping = false;

  shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping...');
    // Reverse order: API first (stops taking requests), then the worker, then infrastructure.
    for (const { name, supervisor } of [...apps].reverse()) {
      await supervisor.stop();
      say(`${name}: stopped`);
    }
    await services?.stop();
    await forgetProcesses(dataDir);
    say('all stopped');
    process.exit(code);
  };
  const giveUp = (reason: string) => {
    say(`${reason}; stopping the stack`);
    void shutdown(1);
  };
  // `on`, not `once`: Ctrl-C reaches us twice (from the terminal and forwarded by npm), and
  // a second signal must not kill the launcher halfway, orphaning what it started.
  // SIGHUP: the terminal went away; stop as cleanly as for Ctrl-C.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (stopping) say(`${signal} received again; still stopping`);
      void shutdown(0);
    });
  }

  // What runs now (pids change on restarts), for the next start to clean up after a killed launcher.
  const record = () =>
    recordProcesses(dataDir, [
      ...(services?.processes() ?? []),
      ...apps.flatMap(({ name, supervisor }) => (supervisor.current.pid ? [{ name, pid: supervisor.current.pid, marker: name === 'api' ? 'api/server.ts' : 'workers/main.ts' }] : [])),
    ]);
  // PostgreSQL, Temporal, the worker and the API are each restarted when they die (lib/supervisor.ts).
  const supervision = { log: say, onGiveUp: giveUp, onRestart: record, stopping: () => stopping };

  say(`data folder: ${dataDir}`);
  const reaped = await reapOrphans(dataDir, say);
  if (reaped) say(`cleaned up ${reaped} process(es) left by a previous run`);
  services = await startServices({
    dataDir,
    databaseUrl: external?.MIGRATION_DATABASE_URL,
    embeddedPgPort: num('EMBEDDED_PG_PORT', 54329),
    temporalAddress: env.TEMPORAL_ADDRESS,
    temporalPort: num('TEMPORAL_PORT', 7233),
    temporalUiPort: num('TEMPORAL_UI_PORT', 8233),
    persist: true,
    sesEndpoint: env.SES_ENDPOINT,
    realSes: Boolean(env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE),
    mailPort: num('MAIL_PORT', 8005),
    log: say,
    supervision,
  });

  // With an embedded server we own it, so the product gets a database of its own on it, and the
  // application a login role whose password is kept in the data folder.
  let ownerUrl: string;
  let databaseUrl: string;
  if (external) {
    ownerUrl = external.MIGRATION_DATABASE_URL;
    databaseUrl = external.DATABASE_URL;
  } else {
    await ensureDatabase(services.serverUrl, 'forclinic');
    ownerUrl = withDatabase(services.serverUrl, 'forclinic');
    databaseUrl = withLogin(ownerUrl, await embeddedLogin(dataDir));
    await recordDevOwnerUrl(dataDir, ownerUrl);
  }
  // Backups read through a role of their own (db/backup-roles.ts), never the owner's credential;
  // on our own server we make it and the restore test's role, with passwords kept like the login's.
  let backupEnv: Record<string, string> = {};
  if (!external) {
    const backup = await embeddedLogin(dataDir, 'forclinic_backup');
    const restoreTest = await embeddedLogin(dataDir, 'forclinic_restore_test');
    await provisionBackupRoles(services.serverUrl, { backup, restoreTest });
    // The contract-end purge's login (db/purge-role.ts): reads and deletes one clinic's rows, nothing else.
    const purge = await embeddedLogin(dataDir, 'forclinic_purge_login');
    await provisionPurgeLogin(ownerUrl, purge, { createGroup: true });
    backupEnv = {
      PURGE_DATABASE_URL: env.PURGE_DATABASE_URL || withLogin(ownerUrl, purge),
      BACKUP_DATABASE_URL: env.BACKUP_DATABASE_URL || withLogin(ownerUrl, backup),
      RESTORE_TEST_DATABASE_URL: env.RESTORE_TEST_DATABASE_URL || withLogin(withDatabase(services.serverUrl, 'postgres'), restoreTest),
    };
  }
  say('PostgreSQL: applying migrations...');
  const applied = await migrateAndProvision({ ownerUrl, appUrl: databaseUrl, resetPassword: !external, applicationName: 'for-clinic-start' });
  say(`PostgreSQL: ${applied.length ? `applied ${applied.length} migration(s)` : 'schema up to date'}; the API and the worker log in as "${loginOf(databaseUrl).user}"`);

  // The owner's credential stays with the launcher: the API and the worker never see it.
  const { MIGRATION_DATABASE_URL: _owner, ...appEnv } = env;
  const childEnv = {
    ...appEnv,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: services.temporalAddress,
    OPERATOR_TOKEN: operatorToken,
    PORT: String(port),
    OPERATOR_PORT: String(operatorPort),
    // Each listener's /passkeys page runs its ceremonies at its own origin: passkeys are bound to
    // the origin they were made at, so the defaults follow the ports this run chose.
    WEBAUTHN_ORIGINS: env.WEBAUTHN_ORIGINS || `http://localhost:${port}`,
    OPERATOR_WEBAUTHN_ORIGINS: env.OPERATOR_WEBAUTHN_ORIGINS || `http://localhost:${operatorPort}`,
    KEY_STORE_DIR: env.KEY_STORE_DIR || path.join(dataDir, 'keys'),
    STORAGE_DIR: env.STORAGE_DIR || path.join(dataDir, 'objects'),
    BACKUP_DIR: env.BACKUP_DIR || path.join(dataDir, 'backups'),
    // Backup failures land in the local mail viewer unless real addresses are configured.
    OPERATOR_EMAILS: env.OPERATOR_EMAILS || 'operators@forclinic.example',
    SECURITY_EMAILS: env.SECURITY_EMAILS || 'security@forclinic.example',
    ...backupEnv,
    VIDEO_TOKEN_SECRET: env.VIDEO_TOKEN_SECRET || randomBytes(32).toString('hex'),
    // Kept in the data folder like the logins' passwords: a certificate issued before a restart stays verifiable.
    DELETION_CERTIFICATE_KEY: env.DELETION_CERTIFICATE_KEY || (await localSecret(dataDir, 'deletion-certificate-key')),
    // One key for the API and the worker of this run (set it to keep login-ID hashes comparable across runs).
    LOGIN_ID_HMAC_KEY: env.LOGIN_ID_HMAC_KEY || randomBytes(32).toString('hex'),
    ...(services.sesEndpoint ? { SES_ENDPOINT: services.sesEndpoint } : {}),
  };
  // Two processes cannot serve metrics on one port: the worker takes the next one.
  const { OPERATOR_TOKEN: _apiOnly, ...workerChildEnv } = childEnv;
  const workerEnv = env.METRICS_PORT && env.METRICS_PORT !== '0' ? { ...workerChildEnv, METRICS_PORT: String(Number(env.METRICS_PORT) + 1) } : workerChildEnv;
  // Supervision (lib/supervisor.ts): a crashed API or worker is restarted with backoff, as a
  // service manager would; only repeated fast crashes (a broken build or configuration) stop the stack.
  const startApp = (name: 'api' | 'worker', entry: string) =>
    startProcess(name, process.execPath, [...(name === 'worker' ? WORKER_NODE_FLAGS : []), '--import', 'tsx', path.join(root, entry)], {
      cwd: root,
      // Two processes cannot serve metrics on one port: the worker takes the next one.
      // The break-glass token goes to the API only: the worker serves no operator requests.
      env: name === 'worker' ? workerEnv : childEnv,
      // An IPC channel lets the child notice if this launcher dies without cleaning up.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      logFile: env.START_QUIET ? path.join(dataDir, 'logs', `${name}.log`) : undefined,
      inheritOutput: !env.START_QUIET,
    });
  const superviseApp = async (name: 'api' | 'worker', entry: string) => {
    const supervisor = await supervise({ name, start: async () => supervisedProcess(startApp(name, entry), 20_000), ...supervision });
    apps.push({ name, supervisor });
    return supervisor.current.child;
  };

  say('worker: starting (bundles workflow code)...');
  const worker = await superviseApp('worker', 'workers/main.ts');
  const workerReady = new Promise<void>((resolve) => worker.once('message', () => resolve()));
  say('api: starting...');
  await superviseApp('api', 'api/server.ts');
  await record();
  const apiUrl = `http://localhost:${port}`;
  await waitFor('the API to become ready', async () => (await fetch(`${apiUrl}/readyz`)).status === 200, 120_000, 250);
  say('api: ready');
  await workerReady;
  say('worker: polling');

  // The first operator is made on the host; once one exists the hint would only be noise.
  const firstOperatorHint = !external && (await operatorCount(ownerUrl)) === 0;
  const lines = [
    'FOR CLINIC is running',
    `API:            ${apiUrl}   (OpenAPI: ${apiUrl}/openapi.json)`,
    `Operator API:   http://${env.OPERATOR_HOST ?? '127.0.0.1'}:${operatorPort}   (OpenAPI: /openapi.json there; /v1/operator/* answers only here)`,
    `Temporal UI:    ${services.temporalUiUrl ?? `(external cluster at ${services.temporalAddress})`}`,
    `Mail viewer:    ${services.mailViewerUrl ?? '(real Amazon SES)'}`,
    ...(env.METRICS_PORT && env.METRICS_PORT !== '0' ? [`Metrics:        http://${env.METRICS_HOST ?? '127.0.0.1'}:${env.METRICS_PORT}/metrics (API), :${Number(env.METRICS_PORT) + 1}/metrics (worker)`] : []),
    `Operator token: ${operatorToken}${env.OPERATOR_TOKEN ? ' (from OPERATOR_TOKEN)' : ' (generated for this run; set OPERATOR_TOKEN to fix it)'} (break-glass: logged and mailed)`,
    `Passkey pages:  ${apiUrl}/passkeys (clinic users), http://localhost:${operatorPort}/passkeys (operators: sign in, enrol, copy the token)`,
    ...(firstOperatorHint ? ["First operator: npm run operator -- create --email you@example.jp --name 'Your Name' --role platform-admin"] : []),
    'Press Ctrl-C to stop.',
  ];
  const width = Math.max(...lines.map((l) => l.length));
  console.log(['', `+${'-'.repeat(width + 2)}+`, ...lines.map((l) => `| ${l.padEnd(width)} |`), `+${'-'.repeat(width + 2)}+`, ''].join('\n'));
  say('ready');
}

/** How many operators exist (the owner's login reads the platform's tables). */
async function operatorCount(ownerUrl: string): Promise<number> {
  const client = new Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>('select count(*) as n from operators')).rows[0]!.n);
  } finally {
    await client.end();
  }
}

main().catch(async (err) => {
  console.error(`[start] FAILED: ${(err as Error).message}`);
  await shutdown(1);
});
