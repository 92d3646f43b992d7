/**
 * Full garbage collections while a memory-heavy job runs (a clinic's data export building its
 * archive), started when buffers outside V8's heap pass 32 MiB, so that the process's memory
 * follows what is live rather than what was dropped.
 *
 * Why it is needed: the export streams gigabytes of buffers, and opens hundreds of thousands of
 * cipher contexts, whose memory lives outside V8's heap. With the worker's small young generation
 * (workers/node-flags.ts) anything still in flight at a scavenge is promoted, and V8 collects old
 * objects only after about 64 MiB of outside memory has piled up, which malloc then keeps. The
 * export of 100,000 patients peaked at 259–265 MiB RSS without this and 198–213 MiB with it,
 * for about 135 collections and a fifth more time (`npm run bench`, part exports; README:
 * Benchmarks). Freeing buffers as they are written (lib/socket-chunks.ts) does not reach this:
 * most of that memory belongs to zlib, OpenSSL and streams rather than to our code.
 *
 * It needs node's `--expose-gc` (workers/node-flags.ts). Without it (the test suite, a process
 * started without the worker's flags) nothing happens: memory is then left to V8's heuristics.
 * Jobs running at once share one check.
 */
const CHECK_MS = 100;
const LIMIT_BYTES = 32 * 2 ** 20;

export interface PacedCollectionsOptions {
  gc?: () => void;
  /** Bytes of buffers outside V8's heap now (process.memoryUsage().arrayBuffers). */
  outsideBytes?: () => number;
  limitBytes?: number;
  checkMs?: number;
}

let running = 0;
let timer: NodeJS.Timeout | undefined;

/** Starts the checks (or joins them); the returned function ends this job's share, once. */
export function paceCollections(opts: PacedCollectionsOptions = {}): () => void {
  const gc = 'gc' in opts ? opts.gc : (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') return () => undefined;
  const outsideBytes = opts.outsideBytes ?? (() => process.memoryUsage().arrayBuffers);
  const limit = opts.limitBytes ?? LIMIT_BYTES;
  running += 1;
  if (!timer) {
    timer = setInterval(() => {
      if (outsideBytes() > limit) gc();
    }, opts.checkMs ?? CHECK_MS);
    // Never what keeps a worker alive.
    timer.unref();
  }
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    running -= 1;
    if (running === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}
