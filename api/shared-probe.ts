/**
 * One probe answers every caller for `freshMs`: concurrent callers share the one in flight, and
 * its result stands until it is `freshMs` old. `/readyz` is reachable without credentials; without
 * this, a flood of it took a pool connection and a Temporal round trip each, and the Temporal
 * pings timed out under their own load, so healthy instances reported themselves not ready to
 * their load balancer (224 of 300 concurrent probes answered 503 while Temporal was fine).
 */
export function sharedProbe<T>(probe: () => Promise<T>, freshMs: number, now: () => number = Date.now): () => Promise<T> {
  let last: { at: number; result: Promise<T> } | undefined;
  return () => {
    if (last && now() - last.at < freshMs) return last.result;
    const started = { at: now(), result: probe() };
    last = started;
    // A probe that throws is not kept: the next caller probes again.
    started.result.catch(() => {
      if (last === started) last = undefined;
    });
    return started.result;
  };
}
