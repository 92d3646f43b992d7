import { existsSync } from 'node:fs';
import path from 'node:path';
import { temporalConnectionOptions } from '../temporal/connection-options';
import { startTracing } from '../lib/tracing';
import { NativeConnection, Runtime, type LogLevel, type LogMetadata } from '@temporalio/worker';
import { Client } from '@temporalio/client';
import { WorkflowOutbox } from '../temporal/workflow-outbox';
import { checkAppLogin, createDb } from '../db/connection';
import { ensureSchedules } from '../temporal/schedules';
import { ensureSearchAttributes } from '../temporal/search-attributes';
import { createKeyProvider } from '../lib/crypto/provider';
import { Vault } from '../lib/crypto/vault';
import { ConfigError, workerConfigProblems, loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { createSesMailer } from '../lib/mailer';
import { countedMailer, newRegistry, outboxMetrics, poolMetrics, startMetricsListener } from '../lib/metrics';
import { waitFor } from '../lib/process';
import { taskQueues } from './task-queues';
import { createMailWorker, createWorker } from './worker';
import { contractEndServices } from './contract-end-services';
import { backupServices } from '../lib/backup/services';
import { createObjectStore } from '../lib/storage';

/** Worker process entry point: `npm run start:worker`. */
async function main() {
  // The break-glass token is the operator listener's alone: not read, and not handed on to the
  // processes this one forks (backups, exports).
  const config = loadConfig(process.env, 'worker');
  delete process.env.OPERATOR_TOKEN;
  const workerProblems = workerConfigProblems(config);
  if (workerProblems.length) throw new ConfigError(workerProblems);
  const log = createLogger({ name: 'worker', level: config.LOG_LEVEL });
  const sdkLevel: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
    TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error',
  };
  Runtime.install({
    // The SDK's own metrics (task latencies, slots, polls, workflow failures) for Prometheus.
    ...(config.TEMPORAL_METRICS_BIND ? { telemetryOptions: { metrics: { prometheus: { bindAddress: config.TEMPORAL_METRICS_BIND } } } } : {}),
    logger: {
      // The SDK's bundler logs a whole webpack report as one message; keep its first line.
      log: (level: LogLevel, message: string, meta?: LogMetadata) => log[sdkLevel[level]](meta ?? {}, message.split('\n')[0]!),
      trace: (m: string, meta?: LogMetadata) => log.trace(meta ?? {}, m),
      debug: (m: string, meta?: LogMetadata) => log.debug(meta ?? {}, m),
      info: (m: string, meta?: LogMetadata) => log.info(meta ?? {}, m),
      warn: (m: string, meta?: LogMetadata) => log.warn(meta ?? {}, m),
      error: (m: string, meta?: LogMetadata) => log.error(meta ?? {}, m),
    },
  });

  const db = createDb({ url: config.DATABASE_URL, poolMax: config.DATABASE_POOL_MAX, applicationName: 'for-clinic-worker' });
  await checkAppLogin(db);
  const registry = newRegistry('worker');
  const mailer = countedMailer(registry, createSesMailer({ region: config.AWS_REGION, from: config.MAIL_FROM, endpoint: config.SES_ENDPOINT }));
  poolMetrics(registry, db, 'worker');
  outboxMetrics(registry, db);
  const metrics = config.METRICS_PORT === undefined ? undefined : await startMetricsListener(registry, config.METRICS_HOST, config.METRICS_PORT);

  // Temporal may still be starting (or restarting): wait for it instead of crash-looping.
  let connection: NativeConnection | undefined;
  await waitFor(
    `Temporal at ${config.TEMPORAL_ADDRESS}`,
    async () => {
      connection = await NativeConnection.connect(temporalConnectionOptions(config));
      return true;
    },
    120_000,
    1_000,
  );
  const queues = taskQueues(config.TEMPORAL_TASK_QUEUE);
  const queue = queues.main;
  const keys = createKeyProvider(config);
  const tracing = startTracing(config, 'for-clinic-worker');
  const client = new Client({ connection: connection!, namespace: config.TEMPORAL_NAMESPACE, ...(tracing ? { interceptors: tracing.clientInterceptors } : {}) });
  const outbox = new WorkflowOutbox({ db, client, taskQueue: queue, log });
  const contractEnd = contractEndServices(config);
  const deps = { db, mailer, vault: new Vault(db, keys), outbox, temporal: client, notices: { securityContact: config.SECURITY_CONTACT_EMAIL }, backups: backupServices(config, keys), contractEnd, operators: { securityEmails: config.SECURITY_EMAILS }, storage: createObjectStore(config) };
  // A release runs the workflow code `npm run build` bundled (dist/workflow-bundle.js beside the
  // compiled workers/); a development run bundles the sources at start.
  // With tracing, the bundle that also holds the workflow-side tracing interceptors (scripts/bundle-workflows.ts).
  const prebuilt = path.join(__dirname, '..', tracing ? 'workflow-bundle-traced.js' : 'workflow-bundle.js');
  const workflowBundle = existsSync(prebuilt) ? { codePath: prebuilt } : undefined;
  const worker = await createWorker({ connection: connection!, namespace: config.TEMPORAL_NAMESPACE, taskQueue: queue, deps, workflowBundle, tracing });
  const mailWorker = await createMailWorker({ connection: connection!, namespace: config.TEMPORAL_NAMESPACE, taskQueue: queues.mail, ratePerSecond: config.MAIL_SEND_RATE, deps, tracing });
  log.info({ workflowBundle: workflowBundle?.codePath ?? '(bundled at start)', taskQueue: queue, mailTaskQueue: queues.mail, mailSendRate: config.MAIL_SEND_RATE, namespace: config.TEMPORAL_NAMESPACE, metrics: metrics?.url, sdkMetrics: config.TEMPORAL_METRICS_BIND }, 'worker started');
  // Only the worker holds the backup credential (the API never needs it), so the check is here:
  // loud at start-up, and every backup then fails visibly with the same reason.
  if (!config.BACKUP_DATABASE_URL) log.error('BACKUP_DATABASE_URL is not set: nightly backups will fail (README: Backups)');
  if (!config.PURGE_DATABASE_URL) log.error('PURGE_DATABASE_URL is not set: contract-end purges will wait, failing, until it is (README: Contract end)');
  if (!config.OPERATOR_EMAILS.length) log.error('OPERATOR_EMAILS is not set: backup failures cannot be mailed to anyone');
  // Search attributes and schedules travel with the code that uses them.
  try {
    const added = await ensureSearchAttributes(client.connection.operatorService, config.TEMPORAL_NAMESPACE);
    if (added.length) log.info({ added }, 'registered custom search attributes');
  } catch (err) {
    // Without them, starts that set them fail: say so plainly (Temporal Cloud needs them created in its console).
    log.error({ err: (err as Error).message }, 'could not register the custom search attributes');
  }
  try {
    await ensureSchedules(client, queue, '', { restoreTestCron: config.RESTORE_TEST_CRON });
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not create or update the schedules');
  }
  // Started by the launcher: if it dies, do not linger as an orphan.
  if (process.send) {
    process.once('disconnect', () => {
      worker.shutdown();
      mailWorker.shutdown();
    });
    process.send({ ready: true });
    process.channel?.unref(); // the channel alone must not keep this process alive
  }
  try {
    // Runtime installs SIGINT/SIGTERM handlers: run() resolves once in-flight tasks are done.
    await Promise.all([worker.run(), mailWorker.run()]);
  } finally {
    await connection!.close();
    await db.destroy();
    await contractEnd.close();
    mailer.close();
    await metrics?.close();
    await tracing?.flush().catch(() => undefined);
    log.info('worker stopped');
  }
}

main().catch((err) => {
  console.error(`worker failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
