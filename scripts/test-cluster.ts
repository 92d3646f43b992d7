import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { ensureDatabase, withDatabase } from '../db/database';
import { migrateAndProvision } from '../db/migrate';
import { withLogin } from '../db/roles';
import { startLocalKms } from '../lib/local-kms';
import { startLocalSes } from '../lib/local-ses';
import { freePorts, waitFor } from '../lib/process';
import { startTemporalCluster } from '../temporal/cluster';
import { BACKUP_SCHEDULE_ID, RESTORE_TEST_SCHEDULE_ID } from '../temporal/schedules';
import { startTemporalUi, uiWorkflowCount } from '../temporal/cluster-ui';
import { resolveTemporalServerBinaries } from '../temporal/server-binary';
import { bookingClinic } from '../test/harness/consultations';
import { apiProcess, workerProcess, type AppProcess } from '../test/cluster/app-process';
import { runPhase, type Fault, type PhaseResult } from '../test/cluster/faults';
import { LoadGenerator, type LoadClinic } from '../test/cluster/load';
import { describeUnsent, unsentRows } from '../test/cluster/outbox';
import { startClusterPostgres } from '../test/cluster/postgres';
import { rows, table } from '../test/cluster/report';
import { inFlight } from '../test/cluster/retrying-client';
import { verify } from '../test/cluster/verify';

/**
 * `npm run test:cluster`: the product in its production shape — the real Temporal server on
 * PostgreSQL, two API instances and two worker processes, local KMS and SES — under a steady load
 * of bookings, check-ins and new accounts, while faults are injected one after another: a worker
 * SIGKILLed, an API instance SIGKILLed mid-request, the Temporal server restarted, PostgreSQL
 * restarted. Then every request answered 2xx must have had its effect exactly once, the outbox
 * must be drained, and no workflow may have failed. Prints the table of faults (README:
 * Reliability) and exits 1 on any violation.
 */
const CLINICS = Number(process.env.CLUSTER_CLIENTS ?? 4);
const PACE_MS = Number(process.env.CLUSTER_PACE_MS ?? 250);
const PHASE_MIN_MS = Number(process.env.CLUSTER_PHASE_SECONDS ?? 15) * 1000;
const PHASE_MAX_MS = 120_000;
const TASK_QUEUE = 'cluster-test';
// The longest reminder lead allowed: every booking (at most four weeks ahead) is due its reminder at once.
const REMINDER_SECONDS = String(30 * 24 * 3600);

const started = Date.now();
const log = (m: string) => process.stderr.write(`[cluster ${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${m}\n`);

async function main(): Promise<number> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'for-clinic-cluster-'));
  const logs = path.join(dataDir, 'logs');
  await mkdir(logs, { recursive: true });
  const stops: Array<() => Promise<unknown>> = [];
  let ok = false;
  try {
    const binaries = await resolveTemporalServerBinaries(log);
    const pg = await startClusterPostgres(dataDir, log);
    stops.push(() => pg.stop());
    log('PostgreSQL: up');

    const temporal = await startTemporalCluster({ serverUrl: pg.serverUrl, dataDir: path.join(dataDir, 'temporal'), binaries, log });
    stops.push(() => temporal.stop());
    log(`Temporal server ${temporal.address}: up (log: ${temporal.logFile})`);
    // The operators' view of the run (CLUSTER_UI_PORT fixes its port, to keep a browser on it).
    const ui = await startTemporalUi({ binary: binaries.ui, temporalAddress: temporal.address, dataDir: path.join(dataDir, 'temporal'), port: Number(process.env.CLUSTER_UI_PORT) || undefined });
    stops.push(() => ui.stop());
    log(`Temporal UI: ${ui.url}`);

    await ensureDatabase(pg.serverUrl, 'forclinic');
    const ownerUrl = withDatabase(pg.serverUrl, 'forclinic');
    const appUrl = withLogin(ownerUrl, { user: 'forclinic_login', password: randomBytes(24).toString('hex') });
    await migrateAndProvision({ ownerUrl, appUrl, resetPassword: true, applicationName: 'for-clinic-cluster-test' });
    log('product database: migrated');

    const kms = await startLocalKms({ dataDir: path.join(dataDir, 'kms'), region: 'ap-northeast-1', logFile: path.join(logs, 'local-kms.log'), log });
    stops.push(() => kms.stop());
    const ses = await startLocalSes({ port: 0 });
    stops.push(() => ses.close());

    const operatorToken = randomBytes(32).toString('hex');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      DATABASE_URL: appUrl,
      DATABASE_POOL_MAX: '8',
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: temporal.namespace,
      TEMPORAL_TASK_QUEUE: TASK_QUEUE,
      SES_ENDPOINT: ses.endpoint,
      KEY_PROVIDER: 'kms',
      KMS_ENDPOINT: kms.endpoint,
      OPERATOR_TOKEN: operatorToken,
      LOGIN_ID_HMAC_KEY: randomBytes(32).toString('hex'),
      VIDEO_TOKEN_SECRET: randomBytes(32).toString('hex'),
      OPERATOR_EMAILS: 'ops@forclinic.example',
      SECURITY_EMAILS: 'security@forclinic.example',
      STORAGE_DIR: path.join(dataDir, 'objects'),
      BACKUP_DIR: path.join(dataDir, 'backups'),
      CONSULTATION_REMINDERS_SECONDS: REMINDER_SECONDS,
      // The load checks in visits booked up to about 6 days ahead (test/cluster/load.ts nthSlot): check-in
      // opens with the video room when that is earlier than the visit's day (domain/consultation.ts).
      JOIN_WINDOW_BEFORE_SECONDS: String(7 * 86_400),
    };
    delete env.MIGRATION_DATABASE_URL; // the owner's credential stays here
    const apis: ReturnType<typeof apiProcess>[] = [];
    for (const n of [1, 2]) {
      const [port, operatorPort] = await freePorts(2);
      apis.push(apiProcess(`api-${n}`, { ...env, PORT: String(port), OPERATOR_PORT: String(operatorPort) }, path.join(logs, `api-${n}.log`)));
    }
    const workers = [1, 2].map((n) => workerProcess(`worker-${n}`, env, path.join(logs, `worker-${n}.log`)));
    const processes: AppProcess[] = [...workers, ...apis];
    stops.push(() => Promise.all(processes.map((p) => p.stop())));
    await Promise.all(workers.map((w) => w.start()));
    log('two workers: polling');
    await Promise.all(apis.map((a) => a.start()));
    log(`two APIs: ${apis.map((a) => a.url).join(', ')}`);

    const connection = await Connection.connect({ address: temporal.address });
    stops.push(() => connection.close());
    const client = new Client({ connection, namespace: temporal.namespace });
    // This cluster has no backup credential (BACKUP_DATABASE_URL), so a backup started by its
    // schedule fails, as README: Backups says it must; the nightly one fires at 16:00 UTC and a run
    // that spanned that minute failed its "no failed workflow" check. The workers created the
    // schedules before they said they were polling; a paused schedule stays paused when a
    // restarted worker brings it up to date (temporal/schedules.ts upsertSchedule).
    for (const id of [BACKUP_SCHEDULE_ID, RESTORE_TEST_SCHEDULE_ID]) {
      await client.schedule.getHandle(id).pause('the cluster test runs without a backup credential');
    }
    /** Runs the outbox sweeper (as its schedule does every minute) until no row is left unsent. */
    const drain = async (when: string) => {
      const before = await describeUnsent(ownerUrl);
      await waitFor('the outbox to drain', async () => {
        await client.workflow.execute('workflowOutboxSweepWorkflow', { taskQueue: TASK_QUEUE, workflowId: `outbox-sweep-${randomBytes(4).toString('hex')}` });
        return (await unsentRows(ownerUrl)) === 0;
      }, 90_000, 1_000).catch(() => undefined);
      log(`outbox ${when}: unsent before the sweeper: ${before}; after: ${await describeUnsent(ownerUrl)}`);
    };
    // The setup goes through the first API, as an operator and each clinic's admin would.
    const target = {
      url: apis[0]!.url,
      operatorUrl: apis[0]!.operatorUrl,
      operatorToken,
      resultOf: <T,>(workflowId: string) => client.workflow.getHandle(workflowId).result() as Promise<T>,
    };
    const clinics: LoadClinic[] = await Promise.all(
      Array.from({ length: CLINICS }, async (_, i) => {
        const patientEmail = `patient-${i}@cluster.example`;
        const c = await bookingClinic(target, { patientEmail });
        return { tenantId: c.clinic.id, adminToken: c.adminToken, staffToken: c.staffToken, practitionerId: c.practitionerId, patientId: c.patientId, patientEmail };
      }),
    );
    // The setup's own workflows (provisioning, onboarding) all started before the clock of the first phase runs.
    await drain('after the setup');
    log(`${CLINICS} clinics ready; load starts`);

    const load = new LoadGenerator({ apiUrls: () => apis.map((a) => a.url), clinics, runId: randomBytes(3).toString('hex'), paceMs: PACE_MS });
    load.start();
    const restart = async (p: AppProcess, how: 'kill' | 'stop') => {
      await (how === 'kill' ? p.kill() : p.stop());
      await p.start();
    };
    const faults: Array<{ name: string; fault?: Fault }> = [
      { name: 'none (baseline)' },
      { name: 'worker SIGKILL', fault: { name: 'worker SIGKILL', inject: () => restart(workers[0]!, 'kill') } },
      {
        name: 'API SIGKILL mid-request',
        fault: {
          name: 'API SIGKILL mid-request',
          inject: async () => {
            // Killed while it serves a request: that client sees its connection cut and retries elsewhere.
            await waitFor('a request in flight on api-1', async () => (inFlight.get(apis[0]!.url) ?? 0) > 0, 10_000, 5);
            await restart(apis[0]!, 'kill');
          },
        },
      },
      { name: 'Temporal server restart', fault: { name: 'Temporal server restart', inject: async () => { await temporal.stop(); await temporal.start(); } } },
      { name: 'PostgreSQL restart', fault: { name: 'PostgreSQL restart', inject: () => pg.restart() } },
    ];
    const phases: PhaseResult[] = [];
    for (const f of faults) {
      log(`phase: ${f.name}`);
      phases.push(await runPhase({ load, name: f.name, fault: f.fault, ownerUrl, minMs: PHASE_MIN_MS, maxMs: PHASE_MAX_MS, log }));
    }
    await load.stop();
    log(`load stopped: ${load.records.length} requests`);

    await drain('after the load');
    const left = await unsentRows(ownerUrl);
    const verdict = await verify({ ownerUrl, temporal: client, sesEndpoint: ses.endpoint, clinics, records: load.records, deadlineMs: 60_000 });
    if (left !== 0) verdict.violations.push(`${left ?? 'an unknown number of'} outbox row(s) still unsent after the sweeper`);
    // A dependency that is down is answered 503 service_unavailable (retry later), never 500: a 500
    // is an error nobody mapped (before the outbox work, a PostgreSQL restart gave 88 of them).
    const answered500 = load.records.flatMap((r) => r.attempts.filter((a) => a.outcome === 500).map(() => `${r.phase}: ${r.kind}`));
    if (answered500.length) verdict.violations.push(`${answered500.length} attempt(s) answered 500 instead of 503 (${[...new Set(answered500)].slice(0, 5).join(', ')})`);
    // What an operator sees must be what happened: the UI counts the same workflows, none failed.
    const query = 'WorkflowType="consultationWorkflow" OR WorkflowType="accountOnboardingWorkflow"';
    const shown = await uiWorkflowCount(ui, temporal.namespace, query).catch((err: Error) => err);
    if (shown instanceof Error) verdict.violations.push(`the Temporal UI did not answer: ${shown.message}`);
    else if (shown !== verdict.facts.workflows) verdict.violations.push(`the Temporal UI shows ${shown} workflows, the server listed ${verdict.facts.workflows}`);
    const failedShown = await uiWorkflowCount(ui, temporal.namespace, 'ExecutionStatus="Failed" OR ExecutionStatus="TimedOut" OR ExecutionStatus="Terminated"').catch(() => -1);
    if (failedShown !== 0) verdict.violations.push(`the Temporal UI shows ${failedShown} failed, timed-out or terminated workflows`);
    const report = rows(phases, load.records, verdict);
    process.stdout.write(`\n${table(report)}\n\n`);
    const f = verdict.facts;
    process.stdout.write(
      `consultations: ${f.consultations}, workflows listed: ${f.workflows}, reminder mails: ${f.mails} (resent marked: ${f.resentMails}), ` +
        `accounts whose retry met 409 login_id_taken and exist once: ${f.accountsConfirmedBy409}, ` +
        `retries answered from an earlier cut-off attempt's effect (Idempotency-Key): ${f.replayed}; total ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
    );
    for (const v of verdict.violations.slice(0, 50)) process.stdout.write(`VIOLATION: ${v}\n`);
    if (verdict.violations.length > 50) process.stdout.write(`… and ${verdict.violations.length - 50} more\n`);
    const unhealed = phases.filter((p) => p.firstSuccessSec === undefined || p.drainedSec === undefined);
    for (const p of unhealed) process.stdout.write(`VIOLATION: ${p.name} did not heal within ${PHASE_MAX_MS / 1000} s\n`);
    ok = verdict.violations.length === 0 && unhealed.length === 0;
    process.stdout.write(ok ? 'cluster test: PASSED\n' : 'cluster test: FAILED\n');
  } catch (err) {
    log(`FAILED: ${(err as Error).stack ?? String(err)}`);
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err) => log(`stop: ${(err as Error).message}`));
    if (ok) await rm(dataDir, { recursive: true, force: true });
    else log(`logs kept in ${logs}`);
  }
  return ok ? 0 : 1;
}

main().then((code) => process.exit(code));
