import { fork } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import path from 'node:path';
import { startProcess, waitFor, type ManagedProcess } from '../../lib/process';
import { WORKER_NODE_FLAGS } from '../../workers/node-flags';

/**
 * One API or worker process of the product, started the way a service manager would run it
 * (`node --import tsx api/server.ts`, `workers/main.ts` with the worker's flags), on fixed ports
 * so that a restarted instance comes back where the load balancer (here: the load generator)
 * sends requests.
 */
export interface AppProcess {
  name: string;
  start(): Promise<void>;
  /** SIGKILL, as a crashed machine: no graceful shutdown, in-flight requests and tasks cut. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

const ROOT = path.join(__dirname, '..', '..');

export function apiProcess(name: string, env: NodeJS.ProcessEnv, logFile: string): AppProcess & { url: string; operatorUrl: string } {
  let proc: ManagedProcess | undefined;
  const url = `http://127.0.0.1:${env.PORT}`;
  return {
    name,
    url,
    operatorUrl: `http://127.0.0.1:${env.OPERATOR_PORT}`,
    start: async () => {
      const started = startProcess(name, process.execPath, ['--import', 'tsx', path.join(ROOT, 'api', 'server.ts')], { env, logFile, cwd: ROOT });
      proc = started;
      let exited = false;
      void started.exited.then(() => (exited = true));
      await waitFor(`${name} ready at ${url}`, async () => {
        if (exited) throw new Error(`${name} exited during start-up; see ${logFile}`);
        return (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) })).ok;
      }, 60_000, 200).catch((err) => {
        throw exited ? new Error(`${name} exited during start-up; see ${logFile}`) : err;
      });
    },
    kill: async () => {
      proc?.child.kill('SIGKILL');
      await proc?.exited;
    },
    stop: async () => {
      await proc?.stop(10_000);
    },
  };
}

/** A worker process; ready once it polls (it tells its parent over IPC, as under `npm start`). */
export function workerProcess(name: string, env: NodeJS.ProcessEnv, logFile: string): AppProcess {
  let child: ReturnType<typeof fork> | undefined;
  let exited: Promise<unknown> = Promise.resolve();
  return {
    name,
    start: async () => {
      const out = openSync(logFile, 'a');
      // With the worker's own V8 flags, as docker-compose.yml and `npm start` run it.
      const c = fork(path.join(ROOT, 'workers', 'main.ts'), [], { execArgv: [...WORKER_NODE_FLAGS, '--import', 'tsx'], env, cwd: ROOT, stdio: ['ignore', out, out, 'ipc'] });
      closeSync(out);
      child = c;
      exited = new Promise((resolve) => c.once('exit', resolve));
      await Promise.race([
        new Promise<void>((resolve) => c.once('message', () => resolve())),
        exited.then((code) => Promise.reject(new Error(`${name} exited before it was ready (${String(code)}); see ${logFile}`))),
      ]);
    },
    kill: async () => {
      child?.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child?.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
