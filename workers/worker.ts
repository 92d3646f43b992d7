import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { TRACING_WORKFLOW_MODULES, type Tracing } from '../lib/tracing';

/** Builds the product's worker. Shared by the worker process and the integration tests. */
export async function createWorker(opts: {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Tests pass a prebuilt bundle so each test file bundles workflow code once. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  identity?: string;
  /** Workflows and activities join the trace of whoever started them (lib/tracing.ts). */
  tracing?: Tracing;
}): Promise<Worker> {
  const { tracing } = opts;
  return Worker.create({
    // Tracing: a bundle given here already holds the workflow interceptors (built with TRACING_WORKFLOW_MODULES).
    ...(tracing
      ? { sinks: tracing.sinks, interceptors: { activity: tracing.activityInterceptors, ...(opts.workflowBundle ? {} : { workflowModules: TRACING_WORKFLOW_MODULES }) } }
      : {}),
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...(opts.identity ? { identity: opts.identity } : {}),
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: require.resolve('../workflows') }),
    activities: createActivities(opts.deps),
    shutdownGraceTime: '20 seconds',
  });
}

/**
 * The rate-limited mail worker (activities only). The limit is the server's: every worker
 * polling the queue sends it, and the matching service dispatches at most `ratePerSecond`
 * activity tasks per second for the whole queue, however many workers run. Retries count too,
 * so nothing exceeds the provider's rate. Eager activity execution (which skips the server's
 * limiter) never applies: workflows schedule these on a queue other than their own.
 */
export async function createMailWorker(opts: { connection: NativeConnection; namespace: string; taskQueue: string; ratePerSecond: number; deps: ActivityDeps; identity?: string; tracing?: Tracing }): Promise<Worker> {
  return Worker.create({
    // Activities only: no workflow interceptors or sink.
    ...(opts.tracing ? { interceptors: { activity: opts.tracing.activityInterceptors } } : {}),
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...(opts.identity ? { identity: opts.identity } : {}),
    activities: createActivities(opts.deps),
    maxTaskQueueActivitiesPerSecond: opts.ratePerSecond,
    // Enough slots that the server's rate, not this worker, is the limit (each send takes ~50-500 ms).
    maxConcurrentActivityTaskExecutions: Math.max(20, opts.ratePerSecond * 2),
    shutdownGraceTime: '20 seconds',
  });
}
