import { fork, type ChildProcess, type ForkOptions } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config';
import type { ObjectLock } from '../storage/object-store';
import type { Manifest } from './manifest';
import { BackupMisconfigured } from './write';

/** What the parent sends: the configuration the worker was started with, and the generation. */
export interface WriteJob {
  config: Config;
  generationId: string;
  lock?: { mode: ObjectLock['mode']; retainUntil: string };
}

/** What the child sends back: progress (bytes since its last message), then the manifest or the error. */
export type WriteMessage = { bytes: number } | { manifest: Manifest } | { error: { name: string; message: string } };

/**
 * Writes a generation in a child process of its own at a lower CPU priority (BACKUP_NICE): the
 * snapshot's hashing, compression and encryption keep a core busy for the whole backup, and on a
 * host shared with the API they would otherwise compete with its requests as equals (measured in
 * README: Backups). The child gets the worker's configuration over IPC (never in its argv or
 * environment) and builds the same store and key provider.
 *
 * The child dies with its activity: aborting `signal` (the activity cancelled or timed out) kills
 * it, and it exits by itself when the worker dies and the IPC channel closes. A killed child's
 * generation stays `running`, as with a killed worker, and the retry writes it again.
 */
export function writeGenerationInChild(job: WriteJob, onProgress: (bytes: number) => void, signal?: AbortSignal): Promise<Manifest> {
  // Under tsx (development, tests) the child is TypeScript too and needs tsx's loader.
  const typescript = __filename.endsWith('.ts');
  const execArgv = childExecArgv(process.execArgv);
  if (typescript && !execArgv.some((a) => a.includes('tsx'))) execArgv.push('--import', 'tsx');
  const child = forkNiced(path.join(__dirname, `write-child${path.extname(__filename)}`), [String(job.config.BACKUP_NICE)], job.config.BACKUP_NICE, {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    signal,
    killSignal: 'SIGKILL',
  });
  return new Promise<Manifest>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
      if (child.connected) child.disconnect();
    };
    child.on('message', (m: WriteMessage) => {
      if ('bytes' in m) onProgress(m.bytes);
      else if ('manifest' in m) settle(() => resolve(m.manifest));
      else settle(() => reject(m.error.name === 'BackupMisconfigured' ? new BackupMisconfigured(m.error.message) : Object.assign(new Error(m.error.message), { name: m.error.name })));
    });
    child.once('error', (err) => settle(() => reject(err)));
    child.once('exit', (code, sig) => settle(() => reject(new Error(`the backup process exited (${sig ?? `code ${code}`}) before writing the generation`))));
    child.send(job);
  });
}

/**
 * `fork` at a nice value, set at once from here: the child's threads started from then on (V8's
 * helpers as it boots, libuv's pool later) inherit it; measured in README: Backups, setting it
 * only from the child's own first line left V8's threads as they were and the API's p99 moved
 * more. The child should set it again itself in case this came too late.
 */
export function forkNiced(modulePath: string, args: string[], nice: number, options: ForkOptions): ChildProcess {
  const child = fork(modulePath, args, options);
  if (child.pid) lowerPriority(nice, child.pid);
  return child;
}

/**
 * Sets a process's nice value to `nice` when that lowers its priority, and never raises it: a
 * worker already started at a higher nice value keeps it (raising a priority needs a privilege the
 * worker should not have, and failing here would fail every backup). Best effort: the process may
 * already be gone, and its exit is reported to whoever waits for it.
 */
export function lowerPriority(nice: number, pid = 0): void {
  try {
    if (nice > os.getPriority(pid)) os.setPriority(pid, nice);
  } catch {
    // gone, or not allowed here: the backup runs at the priority it has
  }
}

/**
 * The worker's Node.js options for the child (its V8 flags, a loader), without those that would
 * make the child run something else first: `node -e '<script>'` puts the script in execArgv, and a
 * child inheriting it ran that script again, which started another child (seen once, from a
 * one-line check). Also no debugger port twice.
 */
export function childExecArgv(parent: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < parent.length; i += 1) {
    const a = parent[i]!;
    if (['-e', '--eval', '-p', '--print'].includes(a)) {
      i += 1; // and its script
      continue;
    }
    if (/^--(eval|print)=/.test(a) || a.startsWith('--inspect') || a.startsWith('--debug') || ['-i', '--interactive', '-c', '--check', '--test'].includes(a)) continue;
    out.push(a);
  }
  return out;
}
