import autocannon from 'autocannon';
import { addDays, japanDateOf, japanInstant } from '../domain/japan-time';

/** Shared by the `npm run bench` parts: logging, HTTP load, and figures next to their anchors. */

export const say = (m: string) => process.stderr.write(`[bench] ${m}\n`);

export const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

export interface LoadResult {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
}

/** autocannon against one URL; any unexpected status or socket error fails the figure. */
export async function load(
  name: string,
  url: string,
  o: { duration: number; connections: number; headers?: Record<string, string>; method?: 'GET' | 'POST'; body?: string; expectStatus?: number | number[] },
): Promise<LoadResult & { statuses?: Record<string, number> }> {
  say(`${name}: ${o.connections} connections for ${o.duration} s`);
  const r = await autocannon({ url, connections: o.connections, duration: o.duration, headers: o.headers ?? {}, method: o.method ?? 'GET', body: o.body });
  const stats = r.statusCodeStats as Record<string, { count: number }>;
  const expected = o.expectStatus === undefined ? undefined : [o.expectStatus].flat();
  const unexpected = expected ? r.requests.total - expected.reduce((n, code) => n + (stats[String(code)]?.count ?? 0), 0) : r.non2xx;
  if (unexpected || r.errors) throw new Error(`${name}: ${unexpected} unexpected answers, ${r.errors} errors`);
  const out = { requestsPerSec: Math.round(r.requests.average), p50Ms: r.latency.p50, p99Ms: r.latency.p99, requests: r.requests.total };
  // Where several answers are expected, how many of each.
  return expected && expected.length > 1 ? { ...out, statuses: Object.fromEntries(Object.entries(stats).map(([code, s]) => [code, s.count])) } : out;
}

/**
 * A figure next to the anchor it is judged against, measured in the same run: the ratio is what
 * to track across commits (absolute numbers move with the machine and its other load).
 */
export function compared<F, A>(figure: F, anchor: A, ratio: number, goal: string, met: boolean) {
  return { figure, anchor, ratio: round(ratio), goal, met };
}

/** p-th percentile (nearest rank) of `xs`, in the unit of `xs`, rounded to µs when in ms. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN, 3);
}

export const elapsedMs = (since: bigint) => Number(process.hrtime.bigint() - since) / 1e6;

/**
 * The day the bench books on: the Japanese date four days from today, and its midnight (epoch ms).
 * Far enough ahead that no consultation timer fires while a part runs, and a whole day, so every
 * slot falls inside the bench doctors' 00:00–23:55 hours at any hour of the run.
 */
export function benchBookingDay(now = new Date()): { date: string; midnight: number } {
  const date = addDays(japanDateOf(now), 4);
  return { date, midnight: japanInstant(date).getTime() };
}
