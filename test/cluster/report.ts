import type { OpRecord } from './load';
import type { PhaseResult } from './faults';
import type { Verdict } from './verify';

/** The table the test prints (and the README quotes): per fault, what the requests saw and how long healing took. */
export interface Row {
  fault: string;
  requests: number;
  ok2xx: number;
  client4xx: number;
  server5xx: number;
  retried: number;
  /** Attempts that were retried, by what they met: 503 (a dependency down, said so), 500 (an error nobody mapped), or no answer. */
  failedAttempts: { s503: number; s500: number; other5xx: number; network: number };
  lost: number;
  duplicated: number;
  /** How long the repair itself took (the restart of what was broken). */
  repairSec: number;
  firstSuccessSec?: number;
  drainedSec?: number;
}

export function rows(phases: PhaseResult[], records: OpRecord[], verdict: Verdict): Row[] {
  return phases.map((p) => {
    const mine = records.filter((r) => r.phase === p.name);
    const is = (test: (o: OpRecord['outcome']) => boolean) => mine.filter((r) => test(r.outcome)).length;
    return {
      fault: p.name,
      requests: mine.length,
      ok2xx: is((o) => o !== 'network' && o >= 200 && o < 300),
      client4xx: is((o) => o !== 'network' && o >= 400 && o < 500),
      server5xx: is((o) => o === 'network' || o >= 500),
      retried: mine.filter((r) => r.retried).length,
      failedAttempts: (() => {
        const failed = mine.flatMap((r) => r.attempts.slice(0, -1));
        return {
          s503: failed.filter((a) => a.outcome === 503).length,
          s500: failed.filter((a) => a.outcome === 500).length,
          other5xx: failed.filter((a) => a.outcome !== 'network' && a.outcome > 500 && a.outcome !== 503).length,
          network: failed.filter((a) => a.outcome === 'network').length,
        };
      })(),
      lost: mine.filter((r) => verdict.lost.has(r)).length,
      duplicated: mine.filter((r) => verdict.duplicated.has(r)).length,
      repairSec: (p.repairedAt - p.faultAt) / 1000,
      firstSuccessSec: p.firstSuccessSec,
      drainedSec: p.drainedSec,
    };
  });
}

const sec = (s?: number) => (s === undefined ? '—' : s.toFixed(1));

export function table(all: Row[]): string {
  const head = ['fault', 'requests', '2xx', '4xx', '5xx/net', 'retried', 'retried after (503 · 500 · other 5xx · no answer)', 'lost', 'duplicated', 'restart (s)', 'first e2e 2xx (s)', 'backlog drained (s)'];
  const body = all.map((r) => [r.fault, r.requests, r.ok2xx, r.client4xx, r.server5xx, r.retried, `${r.failedAttempts.s503} · ${r.failedAttempts.s500} · ${r.failedAttempts.other5xx} · ${r.failedAttempts.network}`, r.lost, r.duplicated, sec(r.repairSec), sec(r.firstSuccessSec), sec(r.drainedSec)].map(String));
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...body.map((cells) => `| ${cells.join(' | ')} |`)].join('\n');
}
