import { supervise, type Supervisable, type SupervisorClock } from '../../lib/supervisor';

/**
 * The supervisor's policy with fake children and a clock the test moves: no processes, no sleeps.
 * A backoff wait stays pending until the test lets it end (`clock.elapse()`), so every step is
 * observed in order.
 */
class FakeClock implements SupervisorClock {
  t = 0;
  readonly waits: Array<{ ms: number; resolve: () => void }> = [];
  now = () => this.t;
  sleep = (ms: number) => new Promise<void>((resolve) => this.waits.push({ ms, resolve }));
  /** Ends the pending backoff wait (there must be exactly one), moving time on by its length. */
  elapse() {
    expect(this.waits).toHaveLength(1);
    const wait = this.waits.shift()!;
    this.t += wait.ms;
    wait.resolve();
    return wait.ms;
  }
}

class FakeChild implements Supervisable {
  stopCalls = 0;
  private end!: (exit: number | string) => void;
  readonly exited = new Promise<number | string>((resolve) => (this.end = resolve));
  constructor(readonly pid: number) {}
  crash(exit: number | string = 1) {
    this.end(exit);
  }
  async stop() {
    this.stopCalls += 1;
    this.end('SIGTERM');
  }
}

/** Lets every queued promise callback run (the supervisor reacts to exits asynchronously). */
const settle = async () => {
  for (let i = 0; i < 20; i += 1) await Promise.resolve();
};

function setUp(options: { failStarts?: () => boolean; stopping?: () => boolean } = {}) {
  const clock = new FakeClock();
  const lines: string[] = [];
  const children: FakeChild[] = [];
  const gaveUp: string[] = [];
  const restarted: number[] = [];
  const supervisor = supervise({
    name: 'worker',
    clock,
    log: (m) => lines.push(m),
    onGiveUp: (reason) => gaveUp.push(reason),
    onRestart: (child) => void restarted.push(child.pid),
    stopping: options.stopping,
    start: async () => {
      if (children.length > 0 && options.failStarts?.()) throw new Error('port 7233 is already in use');
      const child = new FakeChild(100 + children.length);
      children.push(child);
      return child;
    },
  });
  const last = () => children[children.length - 1]!;
  return { clock, lines, children, gaveUp, restarted, supervisor, last };
}

describe('supervise', () => {
  it('restarts a crashed child after 1 s, 2 s, 4 s, 8 s, 16 s and gives up after the sixth fast crash', async () => {
    const s = setUp();
    const sup = await s.supervisor;
    const delays: number[] = [];
    for (let crash = 1; crash <= 5; crash += 1) {
      s.clock.t += 500; // up for half a second: a fast crash
      s.last().crash(1);
      await settle();
      delays.push(s.clock.elapse());
      await settle();
      expect(sup.current).toBe(s.last());
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
    expect(s.children).toHaveLength(6);
    expect(s.restarted).toEqual([101, 102, 103, 104, 105]);
    expect(s.lines[0]).toBe('worker exited unexpectedly (exit code 1) after 0.5 s; restarting it in 1 s (attempt 1 of 5)');
    expect(s.lines[1]).toBe('worker: restarted (pid 101)');
    expect(s.gaveUp).toEqual([]);

    s.last().crash('SIGSEGV');
    await settle();
    expect(s.clock.waits).toHaveLength(0);
    expect(s.children).toHaveLength(6);
    expect(s.gaveUp).toEqual(['worker crashed 6 times in a row, each within 30 s of starting (last: exited unexpectedly (signal SIGSEGV) after 0 s); giving up']);
    expect(s.lines[s.lines.length - 1]).toBe('worker: restarted (pid 105)'); // the reason is printed by whoever gives up
  });

  it('caps the delay at 30 s', async () => {
    // A policy with room for more crashes than the default shows the cap.
    const long = setUp();
    const sup = await supervise({
      name: 'api',
      clock: long.clock,
      log: () => undefined,
      onGiveUp: () => undefined,
      backoff: { maxFastCrashes: 8 },
      start: async () => {
        const child = new FakeChild(long.children.length);
        long.children.push(child);
        return child;
      },
    });
    const delays: number[] = [];
    for (let crash = 1; crash <= 7; crash += 1) {
      long.last().crash(1);
      await settle();
      delays.push(long.clock.elapse());
      await settle();
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    await sup.stop();
  });

  it('starts the backoff over once a child stayed up 30 s', async () => {
    const s = setUp();
    await s.supervisor;
    const delays: number[] = [];
    const crashAfter = async (upMs: number) => {
      s.clock.t += upMs;
      s.last().crash(1);
      await settle();
      delays.push(s.clock.elapse());
      await settle();
    };
    await crashAfter(100);
    await crashAfter(100);
    await crashAfter(100);
    await crashAfter(30_000); // it ran for a while: this crash counts as the first of a new run
    await crashAfter(100);
    expect(delays).toEqual([1_000, 2_000, 4_000, 1_000, 2_000]);
    // And five more fast crashes are allowed before giving up again.
    for (let i = 0; i < 3; i += 1) await crashAfter(100);
    expect(s.gaveUp).toEqual([]);
    s.last().crash(1);
    await settle();
    expect(s.gaveUp).toHaveLength(1);
  });

  it('never restarts on a clean shutdown: stopped, stopped during a backoff, or the stack stopping', async () => {
    // Stopped while running: the child is stopped, its exit is not a crash.
    const running = setUp();
    const sup = await running.supervisor;
    await sup.stop();
    await settle();
    expect(running.children[0]!.stopCalls).toBe(1);
    expect(running.children).toHaveLength(1);
    expect(running.lines).toEqual([]);

    // Stopped during the backoff: the restart is cancelled at once, without waiting out the delay.
    const backingOff = setUp();
    const sup2 = await backingOff.supervisor;
    backingOff.children[0]!.crash(1);
    await settle();
    expect(backingOff.clock.waits).toHaveLength(1);
    await sup2.stop();
    await settle();
    expect(backingOff.children).toHaveLength(1);
    backingOff.clock.elapse(); // the delay ends later: still nothing starts
    await settle();
    expect(backingOff.children).toHaveLength(1);

    // The stack is stopping (Ctrl-C reached the child first): its exit is not reported or restarted.
    let stackStopping = false;
    const signalled = setUp({ stopping: () => stackStopping });
    await signalled.supervisor;
    stackStopping = true;
    signalled.children[0]!.crash(0);
    await settle();
    expect(signalled.lines).toEqual([]);
    expect(signalled.clock.waits).toHaveLength(0);
  });

  it('stops a child whose restart was under way when the shutdown began, before stop() resolves', async () => {
    const clock = new FakeClock();
    const first = new FakeChild(1);
    const second = new FakeChild(2);
    let release!: () => void;
    const slowStart = new Promise<void>((resolve) => (release = resolve));
    let starts = 0;
    const sup = await supervise({
      name: 'Temporal',
      clock,
      log: () => undefined,
      onGiveUp: () => undefined,
      start: async () => {
        starts += 1;
        if (starts === 1) return first;
        await slowStart; // the dev server is still opening its SQLite file
        return second;
      },
    });
    first.crash(1);
    await settle();
    clock.elapse();
    await settle();
    let stopped = false;
    const stopping = sup.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(second.stopCalls).toBe(1);
  });

  it('counts a restart that fails to start as a fast crash and tries again', async () => {
    let failing = 2;
    const s = setUp({ failStarts: () => failing-- > 0 });
    await s.supervisor;
    s.last().crash('SIGKILL');
    await settle();
    expect(s.clock.elapse()).toBe(1_000);
    await settle();
    expect(s.lines[1]).toBe('worker could not be restarted (port 7233 is already in use); restarting it in 2 s (attempt 2 of 5)');
    expect(s.clock.elapse()).toBe(2_000);
    await settle();
    expect(s.clock.elapse()).toBe(4_000);
    await settle();
    expect(s.children).toHaveLength(2);
    expect(s.lines[s.lines.length - 1]).toBe('worker: restarted (pid 101)');
  });

  it('does not retry a first start that fails', async () => {
    await expect(
      supervise({ name: 'Temporal', log: () => undefined, onGiveUp: () => undefined, start: () => Promise.reject(new Error('no binary')) }),
    ).rejects.toThrow('no binary');
  });
});
