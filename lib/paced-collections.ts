/**
 * Full garbage collections on a timer while a memory-heavy job runs (a clinic's data export
 * building its archive), so that the process's memory follows what is live rather than what
 * was dropped.
 *
 * Why it is needed: the export streams gigabytes of buffers, and opens hundreds of thousands of
 * cipher contexts, whose memory lives outside V8's heap. With the worker's small young generation
 * (workers/node-flags.ts) anything still in flight at a scavenge is promoted, and V8 collects old
 * objects only after about 64 MiB of outside memory has piled up, which malloc then keeps. A full
 * collection every 500 ms took the export of 100,000 patients from a peak RSS of 252 MiB to
 * 215 MiB for 3% more time (`npm run bench`, part exports; README: Benchmarks); freeing buffers
 * on write (lib/socket-chunks.ts) is not possible here, where most of that memory belongs to
 * zlib, OpenSSL and streams rather than to our code.
 *
 * It needs node's `--expose-gc` (workers/node-flags.ts). Without it (the test suite, a process
 * started without the worker's flags) nothing happens: memory is then left to V8's heuristics.
 * Jobs running at once share one timer.
 */
const INTERVAL_MS = 500;
let running = 0;
let timer: NodeJS.Timeout | undefined;

/** Starts the collections (or joins them); the returned function ends this job's share, once. */
export function paceCollections(gc = (globalThis as { gc?: () => void }).gc, intervalMs = INTERVAL_MS): () => void {
  if (typeof gc !== 'function') return () => undefined;
  running += 1;
  if (!timer) {
    timer = setInterval(() => gc(), intervalMs);
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
