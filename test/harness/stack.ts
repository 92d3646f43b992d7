import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { withLogin } from '../../db/roles';
import { withDatabase } from '../../db/database';
import { DefaultLogger, NativeConnection, Runtime, bundleWorkflowCode, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { startApi, type RunningApi } from '../../api/server';
import { loadConfig, type Config } from '../../lib/config';
import { createSesMailer, type Mailer } from '../../lib/mailer';
import { startTracing, TRACING_WORKFLOW_MODULES } from '../../lib/tracing';
import { createKeyProvider } from '../../lib/crypto/provider';
import { Vault } from '../../lib/crypto/vault';
import { createTemporalClient, type TemporalClient } from '../../temporal/client';
import { createMailWorker, createWorker } from '../../workers/worker';
import { taskQueues } from '../../workers/task-queues';
import type { workflowOutboxSweepWorkflow } from '../../workflows/workflow-outbox-sweep';
import type { SweepResult } from '../../activities/workflow-outbox';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { WorkflowOutbox } from '../../temporal/workflow-outbox';
import { createLogger } from '../../lib/logger';
import { backupServices } from '../../lib/backup/services';
import { contractEndServices } from '../../workers/contract-end-services';
import { createObjectStore } from '../../lib/storage';

const silentLogger = createLogger({ name: 'test', level: 'silent' });
import { createTestDatabase, type TestDatabase } from './database';

// The SDK logs every worker state change at INFO; tests only want to hear about problems.
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // Already installed in this jest worker process by an earlier test file.
}

const bundles = new Map<boolean, Promise<WorkflowBundleWithSourceMap>>();
/** Bundled once per test file (webpack is the slow part of starting a worker); `traced`: with the tracing interceptors. */
export const workflowBundle = (traced = false) => {
  if (!bundles.has(traced)) {
    bundles.set(traced, bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), workflowInterceptorModules: traced ? TRACING_WORKFLOW_MODULES : [], logger: quietLogger }));
  }
  return bundles.get(traced)!;
};

const noop = () => undefined;
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop };

export interface TestStack {
  config: Config;
  api: RunningApi;
  url: string;
  /** The operator listener: every /v1/operator/* call goes here (the public listener answers 404). */
  operatorUrl: string;
  /** The break-glass token (OPERATOR_TOKEN). */
  operatorToken: string;
  database: TestDatabase;
  temporal: TemporalClient;
  worker: Worker;
  /** Start a (new) in-process worker, e.g. after `{ worker: false }` or stopWorker(). */
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  /** Stops only the mail queue's worker: notice mails wait on their queue, as when every mail worker is down. */
  stopMailWorker(): Promise<void>;
  startMailWorker(): Promise<void>;
  mailer: Mailer;
  sesEndpoint: string;
  /** Another API process on the same database, e.g. one that cannot reach Temporal or PostgreSQL. */
  startExtraApi(overrides: Partial<Record<string, string>>): Promise<RunningApi>;
  /** Runs the outbox sweeper once, as its schedule does every minute, and returns its report. */
  sweepOutbox(): Promise<SweepResult>;
  /**
   * The result of a workflow that a committed change started. Under load the API's start can miss
   * its deadline (the change is committed and answered; the sweeper sends the start within a
   * minute); then this sends it now, as the sweeper would, instead of waiting for the schedule.
   */
  resultOf<T = unknown>(workflowId: string): Promise<T>;
  stop(): Promise<void>;
}

/**
 * The product as a clinic front end sees it: the real API on a random port, a real worker on a
 * task queue of its own, both on this file's own database, the shared Temporal server and SES.
 */
export async function startTestStack(overrides: Partial<Record<string, string>> = {}, opts: { worker?: boolean } = {}): Promise<TestStack> {
  const database = await createTestDatabase();
  const operatorToken = randomBytes(32).toString('hex');
  const taskQueue = `test-${randomBytes(4).toString('hex')}`;
  const sesEndpoint = process.env.TEST_SES_ENDPOINT!;
  const env = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    PORT: '0',
    OPERATOR_PORT: '0',
    OPERATOR_TOKEN: operatorToken,
    DATABASE_URL: database.url,
    DATABASE_POOL_MAX: '5',
    TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: taskQueue,
    SES_ENDPOINT: sesEndpoint,
    // Encryption goes through the real KMS API (local-kms, started by the global setup).
    KEY_PROVIDER: 'kms',
    KMS_ENDPOINT: process.env.TEST_KMS_ENDPOINT,
    // Shared by every API of the stack (startExtraApi), as in a deployment.
    LOGIN_ID_HMAC_KEY: randomBytes(32).toString('hex'),
    // Backups: the run's read-only backup role on this file's database, restore tests through the
    // run's CREATEDB role on the same server, objects in a folder of this file's own.
    BACKUP_DATABASE_URL: withLogin(database.ownerUrl, JSON.parse(process.env.TEST_PG_BACKUP_URL_LOGIN!)),
    RESTORE_TEST_DATABASE_URL: withLogin(withDatabase(process.env.TEST_PG_SERVER_URL!, 'postgres'), JSON.parse(process.env.TEST_PG_RESTORE_URL_LOGIN!)),
    BACKUP_DIR: path.join(process.env.TEST_DATA_DIR!, 'backups', database.name),
    OPERATOR_EMAILS: 'ops@forclinic.example',
    // Contract end: the run's purge login on this file's database; files in a folder of this file's own.
    PURGE_DATABASE_URL: withLogin(database.ownerUrl, JSON.parse(process.env.TEST_PG_PURGE_LOGIN!)),
    STORAGE_DIR: path.join(process.env.TEST_DATA_DIR!, 'objects', database.name),
    SECURITY_EMAILS: 'security-team@forclinic.example',
    ...overrides,
  };
  const config = loadConfig(env);
  const extraApis: RunningApi[] = [];
  const mailer = createSesMailer({ region: config.AWS_REGION, from: config.MAIL_FROM, endpoint: sesEndpoint });
  let connection: NativeConnection | undefined;
  let worker: Worker | undefined;
  let mailWorker: Worker | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let mailRunning: Promise<unknown> = Promise.resolve();
  let contractEnd: ReturnType<typeof contractEndServices> | undefined;
  const stopWorker = async () => {
    for (const w of [worker, mailWorker]) if (w && w.getState() === 'RUNNING') w.shutdown();
    await Promise.all([running, mailRunning]);
  };
  const stopMailWorker = async () => {
    if (mailWorker?.getState() === 'RUNNING') mailWorker.shutdown();
    await mailRunning;
  };
  let startMailWorker = async () => undefined as void;
  const release = async () => {
    await Promise.all(extraApis.map((a) => a.close()));
    await stopWorker();
    await connection?.close();
    await contractEnd?.close();
    mailer.close();
    await database.drop();
  };
  try {
    const conn = (connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS }));
    // With OTEL_EXPORTER_OTLP_ENDPOINT (test/tracing.test.ts) the worker traces as workers/main.ts does.
    const tracing = startTracing(config, 'for-clinic-worker');
    const workerClient = new Client({ connection: conn, namespace: config.TEMPORAL_NAMESPACE, ...(tracing ? { interceptors: tracing.clientInterceptors } : {}) });
    const keys = createKeyProvider(config);
    const startWorker = async () => {
      const deps = {
        db: database.db,
        mailer,
        vault: new Vault(database.db, keys),
        outbox: new WorkflowOutbox({ db: database.db, client: workerClient, taskQueue, log: silentLogger }),
        temporal: workerClient,
        notices: { securityContact: config.SECURITY_CONTACT_EMAIL },
        backups: backupServices(config, keys),
        contractEnd: (contractEnd ??= contractEndServices(config)),
        operators: { securityEmails: config.SECURITY_EMAILS },
        storage: createObjectStore(config),
      };
      worker = await createWorker({ connection: conn, namespace: config.TEMPORAL_NAMESPACE, taskQueue, deps, workflowBundle: await workflowBundle(Boolean(tracing)), tracing });
      // The notice mails' rate-limited queue, as the worker process runs it.
      startMailWorker = async () => {
        mailWorker = await createMailWorker({ connection: conn, namespace: config.TEMPORAL_NAMESPACE, taskQueue: taskQueues(taskQueue).mail, ratePerSecond: config.MAIL_SEND_RATE, deps, tracing });
        mailRunning = mailWorker.run();
      };
      await startMailWorker();
      running = worker.run();
    };
    if (opts.worker !== false) await startWorker();
    const api = await startApi(config);
    const temporal = createTemporalClient({ address: config.TEMPORAL_ADDRESS, namespace: config.TEMPORAL_NAMESPACE });
    return {
      config,
      api,
      url: api.url,
      operatorUrl: api.operatorUrl,
      operatorToken,
      database,
      temporal,
      get worker() {
        return worker!;
      },
      startWorker,
      stopWorker,
      stopMailWorker,
      startMailWorker: () => startMailWorker(),
      mailer,
      sesEndpoint,
      startExtraApi: async (more) => {
        const extra = await startApi(loadConfig({ ...env, ...more }));
        extraApis.push(extra);
        return extra;
      },
      resultOf: async <T,>(workflowId: string) => {
        const handle = temporal.client.workflow.getHandle(workflowId);
        try {
          return (await handle.result()) as T;
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          await new WorkflowOutbox({ db: database.db, client: temporal.client, taskQueue, log: silentLogger }).dispatchWorkflow(workflowId);
          return (await handle.result()) as T;
        }
      },
      sweepOutbox: () =>
        temporal.client.workflow.execute<typeof workflowOutboxSweepWorkflow>('workflowOutboxSweepWorkflow', {
          taskQueue,
          workflowId: `outbox-sweep-${randomBytes(4).toString('hex')}`,
        }),
      stop: async () => {
        await api.close();
        await temporal.close();
        await release();
      },
    };
  } catch (err) {
    // Nothing is left behind (e.g. when a fixed PORT was taken), so the caller may try again.
    await release().catch(() => undefined);
    throw err;
  }
}
