import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { closeSync, createWriteStream, openSync } from 'node:fs';
import net from 'node:net';

/** Small helpers for the processes the launcher and the test harness own. */

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal) once the process has gone. */
  readonly exited: Promise<number | string>;
  stop(graceMs?: number): Promise<void>;
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions & {
    logFile?: string;
    inheritOutput?: boolean;
    /**
     * The child writes `logFile` itself instead of through a pipe to us (its output cannot be
     * read then). For a child meant to outlive a killed launcher (the Temporal dev server): through
     * a pipe it would die of SIGPIPE at its next log line, at a moment nobody chose — possibly
     * while the next start opens the same database.
     */
    childWritesLog?: boolean;
  } = {},
): ManagedProcess {
  const { logFile, inheritOutput, childWritesLog, ...spawnOptions } = options;
  if (logFile && childWritesLog) {
    const log = openSync(logFile, 'a');
    try {
      return managed(name, spawn(command, args, { ...spawnOptions, stdio: ['ignore', log, log] }));
    } finally {
      closeSync(log);
    }
  }
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
  if (logFile) {
    const out = createWriteStream(logFile, { flags: 'a' });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
  } else if (inheritOutput) {
    child.stdout?.pipe(process.stdout);
    child.stderr?.pipe(process.stderr);
  } else {
    child.stdout?.resume();
    child.stderr?.resume();
  }
  return managed(name, child);
}

function managed(name: string, child: ChildProcess): ManagedProcess {
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('error', () => resolve('spawn-error'));
  });
  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 10_000) =>
    (stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    })());
  return { name, child, exited, stop };
}

export function isPortOpen(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Asks the OS for a TCP port on loopback that is free now. Only a guess: the port is closed again
 * before the caller uses it, and another process may take it meanwhile. Where we own the listener,
 * listen on port 0 and read the bound port instead; for a program that must be told its port up
 * front, use `onFreePort`.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * `n` ports that are free now and all different: each is held until all are bound. Asking
 * `freePort` n times may hand out the same port twice (it is closed before the next is asked
 * for), and a program given one port for two services fails to start — seen when the launcher
 * test gave the mail server the Temporal server's port, and the API another service's.
 */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i += 1) {
      const server = net.createServer();
      server.unref();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, () => resolve());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))));
  }
}

const ADDRESS_IN_USE = /EADDRINUSE|address already in use|already in use|is taken/i;

/**
 * Starts something that must be told its port up front (PostgreSQL, the Temporal dev server, an
 * API whose configuration names its own origin) on a free port, and on another one when that port
 * was taken before ours bound it: the failure says so, or something else now listens there.
 * `start` must leave nothing running when it fails. Other failures are thrown at once.
 */
export async function onFreePort<T>(
  what: string,
  start: (port: number) => Promise<T>,
  opts: { attempts?: number; log?: (m: string) => void } = {},
): Promise<T> {
  const attempts = opts.attempts ?? 5;
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err ?? '');
      const clash = ADDRESS_IN_USE.test(message) || (err as { code?: string } | undefined)?.code === 'EADDRINUSE' || (await isPortOpen(port));
      if (!clash || attempt >= attempts) throw err instanceof Error ? err : new Error(`${what} failed to start on port ${port}${message ? `: ${message}` : ''}`);
      opts.log?.(`${what}: port ${port} was taken before it could bind; trying another (${attempt}/${attempts - 1})`);
    }
  }
}

/** Polls `check` until it returns true, or throws with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
