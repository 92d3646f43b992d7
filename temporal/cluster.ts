import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { Client } from 'pg';
import { ensureDatabase } from '../db/database';
import { isPortOpen, startProcess, waitFor, type ManagedProcess } from '../lib/process';
import { clusterConfigYaml, dynamicConfigYaml, PORT_NAMES, type ClusterPorts } from './cluster-config';
import { resolveTemporalServerBinaries, type TemporalServerBinaries } from './server-binary';

/**
 * A real Temporal server (the pinned `temporal-server`, all four services in one process) on a
 * PostgreSQL we are given: its two databases are created and their schemas set up and upgraded
 * with `temporal-sql-tool`, as docker-compose.yml's temporal-schema job does; then the server
 * starts, and the namespace is registered once the frontend answers. It can be stopped, killed
 * and started again on the same ports and databases (the production-shape test restarts it).
 */
export interface TemporalClusterOptions {
  /** The PostgreSQL server as a user that may create databases (its password, if any, is passed to Temporal). */
  serverUrl: string;
  databases?: { temporal: string; visibility: string };
  /** Holds the generated configuration and the server's log. */
  dataDir: string;
  namespace?: string;
  log?: (m: string) => void;
  readyTimeoutMs?: number;
  binaries?: TemporalServerBinaries;
}

export interface TemporalCluster {
  address: string;
  namespace: string;
  logFile: string;
  /** The running server process (undefined while stopped). */
  readonly process: ManagedProcess | undefined;
  /** Starts the server again (after stop/kill) and waits until the namespace answers. */
  start(): Promise<void>;
  /** SIGTERM, then SIGKILL after the grace period. */
  stop(graceMs?: number): Promise<void>;
  kill(): Promise<void>;
}

const run = promisify(execFile);
const DEFAULT_DATABASES = { temporal: 'temporal_cluster', visibility: 'temporal_cluster_visibility' };

/** Creates `name` with the schema at its newest version: setup at 0.0 when new, then update (idempotent). */
async function setupSchema(sqlTool: string, serverUrl: string, name: string, versionedDir: string, log: (m: string) => void): Promise<void> {
  const url = new URL(serverUrl);
  await ensureDatabase(serverUrl, name);
  const env = {
    ...process.env,
    SQL_PLUGIN: 'postgres12',
    SQL_HOST: url.hostname,
    SQL_PORT: url.port || '5432',
    SQL_USER: decodeURIComponent(url.username),
    // Through the environment, not the command line (which other users can read).
    SQL_PASSWORD: decodeURIComponent(url.password),
    SQL_DATABASE: name,
  };
  const client = new Client({ connectionString: Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString() });
  await client.connect();
  let versioned: boolean;
  try {
    versioned = Boolean((await client.query("select to_regclass('public.schema_version') as t")).rows[0]?.t);
  } finally {
    await client.end();
  }
  const tool = (args: string[]) => run(sqlTool, ['--plugin', 'postgres12', ...args], { env, maxBuffer: 16 * 1024 * 1024 });
  if (!versioned) await tool(['setup-schema', '-v', '0.0']);
  await tool(['update-schema', '-d', versionedDir]);
  log(`Temporal schema of ${name}: up to date`);
}

/** Whether `port` can be bound on loopback now (a guess, as with freePort: taken again at once). */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Ports for the four services. Temporal stores each membership port in a smallint column
 * (cluster_membership.rpc_port), so they must stay below 32768 — under the OS's ephemeral range,
 * where port 0 would land: we pick at random from 20000–32767 and check each is free.
 */
async function freePorts(): Promise<ClusterPorts> {
  const taken = new Set<number>();
  const ports = {} as ClusterPorts;
  for (const name of PORT_NAMES) {
    let port: number;
    do port = 20_000 + Math.floor(Math.random() * 12_768);
    while (taken.has(port) || !(await canBind(port)));
    taken.add(port);
    ports[name] = port;
  }
  return ports;
}

export async function startTemporalCluster(opts: TemporalClusterOptions): Promise<TemporalCluster> {
  const log = opts.log ?? (() => undefined);
  const namespace = opts.namespace ?? 'default';
  const databases = opts.databases ?? DEFAULT_DATABASES;
  const binaries = opts.binaries ?? (await resolveTemporalServerBinaries(log));
  const schema = path.join(binaries.schemaDir, 'postgresql', 'v12');
  await setupSchema(binaries.sqlTool, opts.serverUrl, databases.temporal, path.join(schema, 'temporal', 'versioned'), log);
  await setupSchema(binaries.sqlTool, opts.serverUrl, databases.visibility, path.join(schema, 'visibility', 'versioned'), log);

  // Ports are chosen once: a restarted server comes back where its clients look for it.
  const ports = await freePorts();
  const url = new URL(opts.serverUrl);
  const configDir = path.join(opts.dataDir, 'config');
  await mkdir(configDir, { recursive: true });
  const dynamicConfigFile = path.join(configDir, 'dynamic.yaml');
  await writeFile(dynamicConfigFile, dynamicConfigYaml());
  await writeFile(
    path.join(configDir, 'cluster.yaml'),
    clusterConfigYaml({
      ports,
      dynamicConfigFile,
      database: {
        host: url.hostname,
        port: Number(url.port || 5432),
        user: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
        ...databases,
      },
    }),
    { mode: 0o600 }, // it holds the database password
  );
  const address = `127.0.0.1:${ports.frontend}`;
  const logFile = path.join(opts.dataDir, 'temporal-server.log');
  let proc: ManagedProcess | undefined;

  const ready = async () => {
    const connection = await Connection.connect({ address, connectTimeout: 1_000 });
    try {
      await connection.withDeadline(Date.now() + 2_000, () => connection.workflowService.getSystemInfo({}));
      return connection;
    } catch (err) {
      await connection.close();
      throw err;
    }
  };

  /** Registers the namespace when it is missing, then waits until requests through it are served. */
  const ensureNamespace = async () => {
    const connection = await ready();
    try {
      try {
        await connection.workflowService.describeNamespace({ namespace });
      } catch {
        await connection.workflowService
          .registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') })
          .catch((err: { code?: number }) => {
            if (err.code !== 6) throw err; // 6 = ALREADY_EXISTS: another caller registered it meanwhile
          });
      }
      // The frontend's namespace cache may not know a namespace registered a moment ago.
      await waitFor(`namespace ${namespace} to be served`, async () => {
        await connection.workflowService.listWorkflowExecutions({ namespace, pageSize: 1 });
        return true;
      }, 60_000, 250);
    } finally {
      await connection.close();
    }
  };

  const start = async () => {
    if (proc && proc.child.exitCode === null && proc.child.signalCode === null) return;
    for (const name of PORT_NAMES) {
      if (await isPortOpen(ports[name])) throw new Error(`port ${ports[name]} (${name}) is already in use`);
    }
    const started = startProcess('temporal-server', binaries.server, ['--root', opts.dataDir, '--config', 'config', '--env', 'cluster', '--allow-no-auth', 'start'], { logFile });
    proc = started;
    let exited = false;
    void started.exited.then(() => (exited = true));
    try {
      const deadline = Date.now() + (opts.readyTimeoutMs ?? 90_000);
      for (;;) {
        if (exited) throw new Error(`the Temporal server exited during start-up; see ${logFile}`);
        const connection = (await isPortOpen(ports.frontend)) ? await ready().catch(() => undefined) : undefined;
        if (connection) {
          await connection.close();
          break;
        }
        if (Date.now() > deadline) throw new Error(`the Temporal server did not answer on ${address} in time; see ${logFile}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      await ensureNamespace();
    } catch (err) {
      await started.stop(2_000);
      throw err;
    }
  };

  await start();
  return {
    address,
    namespace,
    logFile,
    get process() {
      return proc;
    },
    start,
    stop: async (graceMs = 10_000) => {
      await proc?.stop(graceMs);
    },
    kill: async () => {
      if (!proc) return;
      proc.child.kill('SIGKILL');
      await proc.exited;
    },
  };
}
