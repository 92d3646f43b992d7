import type { ChildProcess } from 'node:child_process';
import type { ManagedProcess } from './process';

/**
 * Keeps one child of `npm start` running, as a service manager would: a child that exits on its
 * own is restarted after a backoff (1 s, 2 s, 4 s … at most 30 s), and the backoff starts over
 * once a child stayed up for a while. Only repeated fast crashes — a broken build or
 * configuration, which no restart fixes — make it give up, and then the stack is stopped.
 *
 * What it runs is injected (`start`), and so is the clock, so the policy is unit-tested without
 * processes or sleeps (test/unit/supervisor.test.ts).
 */

/** What the supervisor needs of a running child: how to tell it ended, and how to stop it. */
export interface Supervisable {
  readonly pid?: number;
  /** Resolves with the exit code, or the signal's name, once the child is gone. */
  readonly exited: Promise<number | string>;
  stop(): Promise<void>;
}

/** A process started with lib/process.ts, as the supervisor sees it (the child kept for its IPC channel and pid). */
export interface SupervisedProcess extends Supervisable {
  readonly child: ChildProcess;
}

export const supervisedProcess = (p: ManagedProcess, graceMs: number): SupervisedProcess => ({
  pid: p.child.pid,
  child: p.child,
  exited: p.exited,
  stop: () => p.stop(graceMs),
});

export interface SupervisorClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: SupervisorClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface BackoffPolicy {
  /** The first restart's delay; each fast crash in a row doubles it. */
  initialMs: number;
  maxMs: number;
  /** A child that ran at least this long before it exited crashed "slowly": the backoff starts over. */
  resetAfterMs: number;
  /** More fast crashes in a row than this, and the supervisor gives up. */
  maxFastCrashes: number;
}

export const defaultBackoff: BackoffPolicy = { initialMs: 1_000, maxMs: 30_000, resetAfterMs: 30_000, maxFastCrashes: 5 };

export interface SupervisorOptions<T extends Supervisable> {
  /** As printed: `api`, `worker`, `Temporal`, `PostgreSQL`. */
  name: string;
  /** Starts the child; may wait for it to be ready. Throwing counts as a crash on restarts. */
  start: () => Promise<T>;
  log: (message: string) => void;
  /** Called once the supervisor gave up, with the reason to print; the child is not running then. */
  onGiveUp: (reason: string) => void;
  /** Called after each successful restart (not the first start), e.g. to record the new pid. */
  onRestart?: (child: T) => void | Promise<void>;
  /**
   * True once the whole stack is stopping. Ctrl-C reaches every process of the terminal's group,
   * so a child may exit before its own `stop()` is called; that exit is no crash.
   */
  stopping?: () => boolean;
  backoff?: Partial<BackoffPolicy>;
  clock?: SupervisorClock;
}

export interface Supervisor<T extends Supervisable> {
  /** The child running now (the last one started, while a restart is pending). */
  readonly current: T;
  /** Stops the child for good: no restart follows, a pending one is cancelled. */
  stop(): Promise<void>;
}

/** How a child ended, for people: `exit code 1`, `signal SIGKILL`. */
export const describeExit = (exit: number | string) => (typeof exit === 'number' ? `exit code ${exit}` : /^SIG/.test(exit) ? `signal ${exit}` : exit);

const seconds = (ms: number) => `${Number((ms / 1000).toFixed(1))} s`;

/** The delay before restart number `fastCrashes` of a run of fast crashes (1-based). */
export const backoffDelay = (policy: BackoffPolicy, fastCrashes: number) => Math.min(policy.maxMs, policy.initialMs * 2 ** (fastCrashes - 1));

/**
 * Starts the child and supervises it. The first start is not retried: if it fails, this throws
 * (the stack cannot come up, and the caller says why); only later exits are restarted.
 */
export async function supervise<T extends Supervisable>(o: SupervisorOptions<T>): Promise<Supervisor<T>> {
  const policy = { ...defaultBackoff, ...o.backoff };
  const clock = o.clock ?? systemClock;
  let current = await o.start();
  let stopped = false;
  let wake: () => void = () => undefined;
  const stoppedSignal = new Promise<void>((resolve) => (wake = resolve));
  const halted = () => stopped || (o.stopping?.() ?? false);
  let fastCrashes = 0;
  let inFlight: Promise<void> | undefined;

  const watch = (child: T, startedAt: number) => {
    void child.exited.then(async (exit) => {
      if (halted()) return;
      const upMs = clock.now() - startedAt;
      fastCrashes = upMs < policy.resetAfterMs ? fastCrashes + 1 : 1;
      await restartAfterCrash(`${o.name} exited unexpectedly (${describeExit(exit)}) after ${seconds(upMs)}`);
    }).catch((err: unknown) => o.log(`${o.name}: supervision failed: ${err instanceof Error ? err.message : String(err)}`));
  };

  const restartAfterCrash = async (what: string): Promise<void> => {
    if (fastCrashes > policy.maxFastCrashes) {
      const reason = `${o.name} crashed ${fastCrashes} times in a row, each within ${seconds(policy.resetAfterMs)} of starting (last: ${what.replace(`${o.name} `, '')}); giving up`;
      stopped = true;
      o.onGiveUp(reason);
      return;
    }
    const delayMs = backoffDelay(policy, fastCrashes);
    o.log(`${what}; restarting it in ${seconds(delayMs)} (attempt ${fastCrashes} of ${policy.maxFastCrashes})`);
    await Promise.race([clock.sleep(delayMs), stoppedSignal]);
    if (halted()) return;
    let child: T;
    try {
      const starting = o.start();
      // stop() waits for a start under way, so nothing it started outlives the stack.
      inFlight = starting.then(async (started) => {
        if (halted()) await started.stop();
      }, () => undefined);
      child = await starting;
    } catch (err) {
      if (halted()) return;
      // A restart that cannot even start (the port still held, the binary gone) is a fast crash too.
      fastCrashes += 1;
      await restartAfterCrash(`${o.name} could not be restarted (${err instanceof Error ? err.message : String(err ?? 'no reason given')})`);
      return;
    }
    if (halted()) return; // stopped while it was starting: inFlight stops it
    current = child;
    o.log(`${o.name}: restarted${child.pid ? ` (pid ${child.pid})` : ''}`);
    watch(child, clock.now());
    await o.onRestart?.(child);
  };

  watch(current, clock.now());
  return {
    get current() {
      return current;
    },
    stop: async () => {
      stopped = true;
      wake();
      await inFlight;
      await current.stop();
    },
  };
}
