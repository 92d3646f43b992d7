import { compared, load, round, say, type LoadResult } from './bench-lib';
import { cpuPerOperation, cpuSnapshot, type CpuGroups, type CpuScope } from './bench-cpu';

/**
 * Authenticated reads for `npm run bench`: `GET /v1/me` and `GET /v1/patients?limit=20` (session
 * check, clinic and allowlist, then the route's own work) next to the floor, a bare Koa route
 * doing one `SELECT 1` on the same pool, measured just before them. Also `/v1/me` with
 * authentication stubbed, which isolates what authentication itself costs.
 */
const KANA = 'アイウエオカキクケコサシスセソタチツテトナニヌネノ';

export async function benchReads(o: {
  api: string;
  bare: string;
  noAuth: string;
  token: string;
  duration: number;
  connections: number;
  /** What the CPU figures count (scripts/bench-cpu.ts). */
  cpuScope: CpuScope;
}) {
  const json = { 'content-type': 'application/json', authorization: `Bearer ${o.token}` };
  const existing = (await (await fetch(`${o.api}/v1/patients?limit=20`, { headers: json })).json()) as { items: unknown[] };
  for (let i = existing.items.length; i < 25; i += 1) {
    const res = await fetch(`${o.api}/v1/patients`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ name: `ベンチ 患者${i}`, kana: `ベンチ カンジャ${KANA[i % KANA.length]}`, birthDate: '1980-04-01', phone: '03-0000-0000', email: `p${i}@bench.example`, address: '東京都千代田区1-1' }),
    });
    if (res.status !== 201) throw new Error(`POST /v1/patients: ${res.status} ${await res.text()}`);
  }
  const auth = { authorization: `Bearer ${o.token}` };
  const opts = { duration: o.duration, connections: o.connections };
  // CPU milliseconds per request by process (README: Benchmarks): a route that uses less CPU per
  // request than its throughput explains is waiting (a lock, a round trip), not computing.
  const cpuMs: Record<string, CpuGroups> = {};
  const measured = async (key: string, run: () => Promise<LoadResult>) => {
    const before = cpuSnapshot(o.cpuScope);
    const r = await run();
    cpuMs[key] = cpuPerOperation(before, cpuSnapshot(o.cpuScope), r.requests);
    return r;
  };
  const anchor = await measured('select1', () => load('bare Koa SELECT 1 (anchor for authenticated reads)', `${o.bare}/select1`, opts));
  const me = await measured('me', () => load('GET /v1/me', `${o.api}/v1/me`, { ...opts, headers: auth }));
  const patients = await measured('patientsLimit20', () => load('GET /v1/patients?limit=20', `${o.api}/v1/patients?limit=20`, { ...opts, headers: auth }));
  const meStubbed = await load('GET /v1/me (authentication stubbed)', `${o.noAuth}/v1/me`, opts);
  const goal = 'ratio >= 0.6 and p99 < 50 ms';
  const judge = (f: LoadResult) => compared(f, anchor, f.requestsPerSec / anchor.requestsPerSec, goal, f.requestsPerSec / anchor.requestsPerSec >= 0.6 && f.p99Ms < 50);
  say(`reads: /v1/me ${round(me.requestsPerSec / anchor.requestsPerSec)}, /v1/patients ${round(patients.requestsPerSec / anchor.requestsPerSec)} of SELECT 1`);
  return {
    authenticatedReads: {
      anchorIs: 'bare Koa route doing SELECT 1 on the same pool, same connections and duration, measured just before',
      me: judge(me),
      patientsLimit20: judge(patients),
      meAuthenticationStubbed: { figure: meStubbed, meToStubbedRatio: round(me.requestsPerSec / meStubbed.requestsPerSec) },
      cpuMsPerRequest: cpuMs,
    },
  };
}
