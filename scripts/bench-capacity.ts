import { fork } from 'node:child_process';
import path from 'node:path';
import type { ActiveClinic } from './bench-audit';
import { prng } from '../test/harness/fuzz';
import { benchBookingDay, elapsedMs, percentile, round, say } from './bench-lib';

/**
 * Capacity for `npm run bench` (part `capacity`): what one API instance and one worker serve when
 * the traffic is a clinic day's mix spread over many clinics, not one route in one clinic. Each
 * connection belongs to one clinic (as a front end's session does) and draws its next request
 * from a fixed mix with a seeded generator, so runs are comparable:
 *
 *   35% the desk's day list (GET /v1/consultations?date=…)   20% GET /v1/me
 *   20% patient search (GET /v1/patients?limit=20)            10% one patient's record (logged read)
 *   15% a booking (POST /v1/consultations: transaction, log entry, outbox, workflow start)
 *
 * The worker runs the bookings' workflows on the same machine, as does PostgreSQL and Temporal,
 * so the figure is the whole stack on two cores: an API instance on its own host serves more.
 * Every answer must be 2xx; one that is not fails the part.
 */
const KANA = 'アイウエオカキクケコサシスセソタチツテトナニヌネノ';
const OPS = ['dayList', 'me', 'search', 'patient', 'book'] as const;
type Op = (typeof OPS)[number];
const DEFAULT_MIX: Record<Op, number> = { dayList: 35, me: 20, search: 20, patient: 10, book: 15 };

/** BENCH_CAPACITY_MIX (e.g. `me=100` or `dayList=50,book=50`) replaces the mix, to see what one kind costs. */
function mixFrom(env: string | undefined): { op: Op; weight: number }[] {
  if (!env) return OPS.map((op) => ({ op, weight: DEFAULT_MIX[op] }));
  const mix = env.split(',').map((part) => {
    const [op, w] = part.split('=');
    if (!(OPS as readonly string[]).includes(op!) || !(Number(w) > 0)) throw new Error(`BENCH_CAPACITY_MIX: "${part}" is not <op>=<weight> with op one of ${OPS.join(', ')}`);
    return { op: op as Op, weight: Number(w) };
  });
  const total = mix.reduce((s, m) => s + m.weight, 0);
  return mix.map((m) => ({ op: m.op, weight: (m.weight * 100) / total }));
}
const MIX = mixFrom(process.env.BENCH_CAPACITY_MIX);

function pick(r: number): Op {
  let x = r * 100;
  for (const m of MIX) {
    if (x < m.weight) return m.op;
    x -= m.weight;
  }
  return 'me';
}

interface ClinicFixture {
  clinic: ActiveClinic;
  practitionerId: string;
  patientIds: string[];
  nextSlot: number;
}

export async function benchCapacity(o: {
  api: string;
  clinics: ActiveClinic[];
  serverEnv: NodeJS.ProcessEnv;
  duration: number;
  connections: number;
  /** Peak requests per second one clinic's front ends send (the planning assumption, README: Capacity). */
  clinicPeakRps: number;
}) {
  const { date: dayList, midnight: base } = benchBookingDay();

  const fixtures: ClinicFixture[] = [];
  for (const clinic of o.clinics) {
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${clinic.adminToken}` };
    const call = async (method: string, p: string, body?: unknown) => {
      const res = await fetch(`${o.api}${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
      return res.json() as Promise<{ id: string }>;
    };
    await call('PATCH', `/v1/accounts/${clinic.adminId}`, { roles: ['admin', 'doctor'] });
    const rules = [0, 1, 2, 3, 4, 5, 6].map((weekday) => ({ weekday, startTime: '00:00', endTime: '23:55' }));
    const practitioner = await call('POST', '/v1/practitioners', { displayName: 'Dr Capacity', accountId: clinic.adminId, slotMinutes: 5, rules });
    const patientIds: string[] = [];
    for (let i = 0; i < 10; i += 1) {
      patientIds.push((await call('POST', '/v1/patients', { name: `容量 患者${i}`, kana: `ヨウリョウ カンジャ${KANA[i % KANA.length]}`, birthDate: '1980-04-01' })).id);
    }
    fixtures.push({ clinic, practitionerId: practitioner.id, patientIds, nextSlot: 0 });
  }

  const worker = fork(path.join(__dirname, '..', 'workers', 'main.ts'), [], { execArgv: ['--import', 'tsx'], env: { ...o.serverEnv, LOG_LEVEL: 'error' }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise<void>((resolve) => worker.once('message', () => resolve()));
  try {
    const latencies = Object.fromEntries(OPS.map((op) => [op, [] as number[]])) as Record<Op, number[]>;
    const failures: string[] = [];
    const request = async (f: ClinicFixture, op: Op, rand: () => number) => {
      const headers: Record<string, string> = { authorization: `Bearer ${f.clinic.adminToken}` };
      let method = 'GET';
      let p: string;
      let body: string | undefined;
      switch (op) {
        case 'dayList': p = `/v1/consultations?date=${dayList}`; break;
        case 'me': p = '/v1/me'; break;
        case 'search': p = '/v1/patients?limit=20'; break;
        case 'patient': p = `/v1/patients/${f.patientIds[Math.floor(rand() * f.patientIds.length)]}`; break;
        case 'book': {
          // Each clinic's bookings take its practitioner's next 5-minute slot: no clash, as at a desk.
          const k = f.nextSlot++;
          method = 'POST';
          p = '/v1/consultations';
          headers['content-type'] = 'application/json';
          headers['idempotency-key'] = `capacity-${base}-${f.clinic.tenantId}-${k}`;
          body = JSON.stringify({ patientId: f.patientIds[k % f.patientIds.length], practitionerId: f.practitionerId, startsAt: new Date(base + k * 300_000).toISOString(), mode: 'in_person' });
          break;
        }
      }
      const started = process.hrtime.bigint();
      const res = await fetch(`${o.api}${p}`, { method, headers, body });
      await res.arrayBuffer();
      if (!res.ok) failures.push(`${method} ${p}: ${res.status}`);
      else latencies[op].push(elapsedMs(started));
    };

    const run = async (seconds: number, record: boolean) => {
      const until = Date.now() + seconds * 1000;
      for (const op of Object.keys(latencies) as Op[]) latencies[op].length = 0;
      const started = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: o.connections }, async (_, c) => {
          const f = fixtures[c % fixtures.length]!;
          const rand = prng(c + 1).next;
          while (Date.now() < until) await request(f, pick(rand()), rand);
        }),
      );
      return record ? elapsedMs(started) / 1000 : 0;
    };
    say(`capacity: warm-up, then ${o.connections} connections over ${fixtures.length} clinics for ${o.duration} s (mixed clinic traffic)`);
    await run(Math.min(3, o.duration), false);
    const seconds = await run(o.duration, true);
    if (failures.length) throw new Error(`capacity: ${failures.length} non-2xx answers, e.g. ${failures.slice(0, 3).join('; ')}`);
    const total = Object.values(latencies).reduce((s, xs) => s + xs.length, 0);
    const requestsPerSec = round(total / seconds, 1);
    const bookingsPerSec = round(latencies.book.length / seconds, 1);
    const perOp = Object.fromEntries((Object.entries(latencies) as [Op, number[]][]).filter(([, xs]) => xs.length).map(([op, xs]) => [op, { count: xs.length, p50Ms: percentile(xs, 50), p99Ms: percentile(xs, 99) }]));
    // Planning: run an instance at half of what it measured here, so a peak, a slow node or a
    // redeploy (one instance out) does not saturate the others.
    const clinicsPerApiInstance = Math.floor((requestsPerSec * 0.5) / o.clinicPeakRps);
    say(`capacity: ${requestsPerSec} requests/s (${bookingsPerSec} bookings/s) over ${fixtures.length} clinics`);
    return {
      capacity: {
        clinics: fixtures.length,
        connections: o.connections,
        mix: Object.fromEntries(MIX.map((m) => [m.op, `${round(m.weight, 1)}%`])),
        requestsPerSec,
        bookingsPerSec,
        perOp,
        planning: {
          clinicPeakRequestsPerSec: o.clinicPeakRps,
          utilisationTarget: 0.5,
          clinicsPerApiInstance,
        },
      },
    };
  } finally {
    const exited = new Promise((r) => worker.once('exit', r));
    worker.kill('SIGTERM');
    await exited;
  }
}
