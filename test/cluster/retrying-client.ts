/**
 * A front end's HTTP calls as a careful client makes them: a network error, a timeout or a 5xx is
 * retried (against the next API instance, as a load balancer would send it) with the same
 * Idempotency-Key, with a growing pause, until an answer that settles it or the deadline. Every
 * attempt is kept, so the report can say what each fault did to the requests.
 */
export type Outcome = number | 'network';

export interface Attempt {
  at: number;
  ms: number;
  outcome: Outcome;
}

export interface Exchange<T = any> {
  /** The last answer: a status, or 'network' when the deadline passed without one. */
  outcome: Outcome;
  body: T;
  attempts: Attempt[];
}

const settled = (o: Outcome) => o !== 'network' && o < 500;

/** Requests under way per API base URL: the fault that kills an API mid-request waits for one. */
export const inFlight = new Map<string, number>();
/** Round robin over the instances across all calls, as the proxy in front of them balances. */
let turn = 0;

export async function callWithRetry<T = any>(
  apiUrls: () => string[],
  method: string,
  path: string,
  opts: { token?: string; json?: unknown; idempotencyKey?: string; deadlineMs?: number; attemptTimeoutMs?: number },
): Promise<Exchange<T>> {
  const deadline = Date.now() + (opts.deadlineMs ?? 90_000);
  const attempts: Attempt[] = [];
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
  let body: any;
  const first = turn++;
  for (let n = 0; ; n += 1) {
    const urls = apiUrls();
    const base = urls[(first + n) % urls.length]!;
    const at = Date.now();
    let outcome: Outcome;
    inFlight.set(base, (inFlight.get(base) ?? 0) + 1);
    try {
      const res = await fetch(`${base}${path}`, {
        method,
        headers,
        body: opts.json === undefined ? undefined : JSON.stringify(opts.json),
        signal: AbortSignal.timeout(opts.attemptTimeoutMs ?? 15_000),
      });
      const text = await res.text();
      outcome = res.status;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
    } catch {
      outcome = 'network';
      body = undefined;
    } finally {
      inFlight.set(base, inFlight.get(base)! - 1);
    }
    attempts.push({ at, ms: Date.now() - at, outcome });
    if (settled(outcome) || Date.now() > deadline) return { outcome, body, attempts };
    // 100 ms, 200 ms … at most 2 s between attempts: pacing the retries, not waiting for a state.
    await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** Math.min(n, 5))));
  }
}
