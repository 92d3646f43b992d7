import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { isPortOpen, startProcess, waitFor, type ManagedProcess } from '../lib/process';
import { resolveTemporalCli } from './cli-binary';
import { devServerSearchAttributeFlags } from './search-attributes';

export interface DevServerOptions {
  port: number;
  uiPort?: number;
  /** SQLite file for state that survives restarts; omit for an in-memory server (tests). */
  dbFile?: string;
  namespace?: string;
  logFile?: string;
  log?: (m: string) => void;
  readyTimeoutMs?: number;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * Starts `temporal server start-dev` ourselves rather than through the SDK's createLocal,
 * whose fixed ~5 s readiness window is too tight for a SQLite-backed server on 2 cores.
 */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const log = opts.log ?? (() => undefined);
  const binary = await resolveTemporalCli(log);
  const namespace = opts.namespace ?? 'default';
  if (await isPortOpen(opts.port)) {
    throw new Error(`port ${opts.port} is already in use: another Temporal server? Set TEMPORAL_PORT or TEMPORAL_ADDRESS`);
  }
  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(opts.port),
    '--namespace', namespace,
    '--log-level', 'warn',
    ...devServerSearchAttributeFlags(),
  ];
  if (opts.uiPort) args.push('--ui-port', String(opts.uiPort), '--ui-ip', '127.0.0.1');
  else args.push('--headless');
  if (opts.dbFile) {
    await mkdir(path.dirname(opts.dbFile), { recursive: true });
    // Without WAL and relaxed fsync, the file-backed store makes every workflow task crawl.
    args.push('--db-filename', opts.dbFile, '--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=NORMAL');
  }
  if (opts.logFile) await mkdir(path.dirname(opts.logFile), { recursive: true });
  // It writes its log itself, so that after a killed launcher it runs on until the next start stops it.
  const proc = startProcess('temporal', binary, args, { logFile: opts.logFile, childWritesLog: true });
  const address = `127.0.0.1:${opts.port}`;
  let exitedEarly = false;
  void proc.exited.then(() => (exitedEarly = true));
  await waitFor(
    `Temporal dev server on ${address}`,
    async () => {
      if (exitedEarly) throw new Error('exited');
      if (!(await isPortOpen(opts.port))) return false;
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return true;
      } finally {
        await connection.close();
      }
    },
    opts.readyTimeoutMs ?? 60_000,
    200,
  ).catch(async (err) => {
    await proc.stop(2_000);
    throw new Error(
      exitedEarly
        ? `Temporal dev server exited during start-up${opts.logFile ? `; see ${opts.logFile}` : ''}`
        : (err as Error).message,
    );
  });
  return {
    address,
    uiUrl: opts.uiPort ? `http://localhost:${opts.uiPort}` : undefined,
    process: proc,
    stop: () => proc.stop(10_000),
  };
}
