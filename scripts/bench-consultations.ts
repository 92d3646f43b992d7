import { fork } from 'node:child_process';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { benchBookingDay } from './bench-lib';
import { cpuPerOperation, cpuSnapshot } from './bench-cpu';
import { echoUpdate, stopUpdate } from './bench-workflows';

/**
 * Consultation figures for `npm run bench`: bookings per second through the API next to the raw
 * rate of client.workflow.start for an empty workflow on the same server (the ratio is what we
 * track), complete lifecycles per minute, and the latency of check-in (an update round trip).
 */
const say = (m: string) => process.stderr.write(`[bench] ${m}\n`);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! * 10) / 10;
};

async function pool<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

/** Waits until each workflow has completed its first workflow task (started, scheduled, started, completed). */
async function firstTasksDone(client: Client, workflowIds: string[]): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (const id of workflowIds) {
    while ((await client.workflow.getHandle(id).describe()).historyLength < 4) {
      if (Date.now() > deadline) throw new Error(`consultations: ${id} has not run its first task after 2 minutes`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export async function benchConsultations(opts: { api: string; adminToken: string; adminId: string; serverEnv: NodeJS.ProcessEnv; temporalAddress: string; taskQueue: string; database: string; apiPid?: number }) {
  const temporalPort = Number(opts.temporalAddress.split(':').at(-1));
  let workerPid: number | undefined;
  const cpu = () => cpuSnapshot({ pids: { api: opts.apiPid, worker: workerPid }, temporalPort, database: opts.database });
  const json = { 'content-type': 'application/json', authorization: `Bearer ${opts.adminToken}` };
  const req = async (method: string, p: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${opts.api}${p}`, { method, headers: { ...json, ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  // The admin also practises here, so one token can drive every step.
  await req('PATCH', `/v1/accounts/${opts.adminId}`, { roles: ['admin', 'doctor'] });
  const allDay = [0, 1, 2, 3, 4, 5, 6].map((weekday) => ({ weekday, startTime: '00:00', endTime: '23:55' }));
  const practitioners = await Promise.all([0, 1, 2, 3].map((i) => req('POST', '/v1/practitioners', { displayName: `Dr ${i}`, accountId: opts.adminId, slotMinutes: 5, rules: allDay })));
  const patient = await req('POST', '/v1/patients', { name: 'ベンチ 太郎', kana: 'ベンチ タロウ', birthDate: '1970-01-01' });

  const worker = fork(path.join(__dirname, '..', 'workers', 'main.ts'), [], { execArgv: ['--import', 'tsx'], env: { ...opts.serverEnv, LOG_LEVEL: 'error' }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  workerPid = worker.pid;
  await new Promise<void>((resolve) => worker.once('message', () => resolve()));
  try {
    const base = benchBookingDay().midnight;
    const slot = (i: number) => ({ practitionerId: practitioners[i % 4].id, startsAt: new Date(base + Math.floor(i / 4) * 300_000).toISOString() });
    const N = Number(process.env.BENCH_BOOKINGS ?? 400);
    say(`consultations: ${N} bookings through the API (16 at a time)`);
    let c0 = cpu();
    let t = process.hrtime.bigint();
    const booked = await pool(N, 16, (i) => req('POST', '/v1/consultations', { patientId: patient.id, ...slot(i), mode: 'in_person' }, { 'idempotency-key': `bench-${base}-${i}` }));
    const bookingsPerSec = Math.round(N / (Number(process.hrtime.bigint() - t) / 1e9));
    // The worker runs each booked workflow's first task after the answer: wait for it (the last
    // bookings' first tasks done), so that its CPU is the booking's and not the next phase's.
    const connection = await Connection.connect({ address: opts.temporalAddress });
    const client = new Client({ connection });
    await firstTasksDone(client, booked.slice(-16).map((b: { id: string }) => `consultation/${b.id}`));
    const bookingCpuMs = cpuPerOperation(c0, cpu(), N);

    say(`consultations: ${N} raw client.workflow.start of an empty workflow (16 at a time)`);
    c0 = cpu();
    t = process.hrtime.bigint();
    const handles = await pool(N, 16, (i) => client.workflow.start('benchEmptyWorkflow', { workflowId: `bench-empty-${base}-${i}`, taskQueue: `${opts.taskQueue}-empty`, args: [] }));
    const rawStartsPerSec = Math.round(N / (Number(process.hrtime.bigint() - t) / 1e9));
    const rawStartCpuMs = cpuPerOperation(c0, cpu(), N);
    await Promise.all(handles.map((h) => h.terminate('benchmark done').catch(() => undefined)));

    const L = Number(process.env.BENCH_LIFECYCLES ?? 60);
    say(`consultations: ${L} complete lifecycles (8 at a time)`);
    const checkIns: number[] = [];
    t = process.hrtime.bigint();
    await pool(L, 8, async (i) => {
      const id = booked[i].id;
      await req('POST', `/v1/consultations/${id}/questionnaire`, { answers: { q: 'ok' } });
      const s = process.hrtime.bigint();
      await req('POST', `/v1/consultations/${id}/check-in`);
      checkIns.push(Number(process.hrtime.bigint() - s) / 1e6);
      await req('POST', `/v1/consultations/${id}/start`);
      await req('POST', `/v1/consultations/${id}/finish`, { note: 'bench', prescriptions: [] });
      await req('POST', `/v1/consultations/${id}/payment`, { amount: 1000, method: 'cash' });
      await client.workflow.getHandle(`consultation/${id}`).result();
    });
    const lifecyclesPerMinute = Math.round((L / (Number(process.hrtime.bigint() - t) / 1e9)) * 60);

    // Check-in on its own, as the anchor is measured: L check-ins 8 at a time with nothing else
    // running (the lifecycles above interleave them with finishes and payments of other visits).
    const ready = booked.slice(L, 2 * L);
    await pool(ready.length, 8, (i) => req('POST', `/v1/consultations/${ready[i].id}/questionnaire`, { answers: { q: 'ok' } }));
    const checkInsAlone: number[] = [];
    c0 = cpu();
    await pool(ready.length, 8, async (i) => {
      const s = process.hrtime.bigint();
      await req('POST', `/v1/consultations/${ready[i].id}/check-in`);
      checkInsAlone.push(Number(process.hrtime.bigint() - s) / 1e6);
    });
    const checkInCpuMs = cpuPerOperation(c0, cpu(), ready.length);

    // Anchor: the same number of update round trips, 8 at a time, to workflows whose handler does nothing.
    say(`consultations: ${L} raw update round trips on empty workflows (8 at a time)`);
    const native = await NativeConnection.connect({ address: opts.temporalAddress });
    const echoQueue = `${opts.taskQueue}-echo`;
    const echoWorker = await Worker.create({ connection: native, taskQueue: echoQueue, workflowsPath: require.resolve('./bench-workflows') });
    const echoRun = echoWorker.run();
    const echoes = await Promise.all(Array.from({ length: 8 }, (_, i) => client.workflow.start('benchEchoWorkflow', { workflowId: `bench-echo-${base}-${i}`, taskQueue: echoQueue })));
    for (const h of echoes) await h.executeUpdate(echoUpdate, { args: ['warm'] });
    const rawUpdates: number[] = [];
    c0 = cpu();
    await pool(L, 8, async (i) => {
      const s = process.hrtime.bigint();
      await echoes[i % 8]!.executeUpdate(echoUpdate, { args: ['x'] });
      rawUpdates.push(Number(process.hrtime.bigint() - s) / 1e6);
    });
    const rawUpdateCpuMs = cpuPerOperation(c0, cpu(), L);
    await Promise.all(echoes.map((h) => h.executeUpdate(stopUpdate)));
    echoWorker.shutdown();
    await echoRun;
    await native.close();
    await connection.close();
    return {
      consultations: {
        bookingsPerSec,
        rawWorkflowStartsPerSec: rawStartsPerSec,
        // Goal ≥ 0.6: a booking (HTTP, auth, transaction, outbox, start after commit) vs a bare start.
        bookingToRawStartRatio: Math.round((bookingsPerSec / rawStartsPerSec) * 100) / 100,
        // CPU milliseconds per operation by process (README: Benchmarks): where the ratio goes.
        bookingCpuMs,
        rawStartCpuMs,
        lifecyclesPerMinute,
        checkInDuringLifecyclesMs: { p50: pct(checkIns, 50), p99: pct(checkIns, 99) },
        checkInUpdateMs: { p50: pct(checkInsAlone, 50), p99: pct(checkInsAlone, 99) },
        rawUpdateMs: { p50: pct(rawUpdates, 50), p99: pct(rawUpdates, 99) },
        checkInCpuMs,
        rawUpdateCpuMs,
        // Latency ratio: anchor ÷ ours (1.0 = check-in costs no more than a bare update), both 8 at a time alone. Goal ≥ 0.7.
        checkInToRawUpdateRatio: Math.round((pct(rawUpdates, 50) / pct(checkInsAlone, 50)) * 100) / 100,
      },
    };
  } finally {
    worker.kill('SIGTERM');
  }
}
