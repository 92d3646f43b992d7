import { fork } from 'node:child_process';
import path from 'node:path';
import type { TestStack } from './stack';

/**
 * A worker in a process of its own on the stack's database, Temporal task queue, SES and KMS —
 * one a test can SIGKILL mid-activity, as a crashed machine would. Resolves once the worker
 * polls (it tells its parent over IPC); fails if it exits before.
 */
export interface WorkerProcess {
  readonly pid: number;
  /** SIGKILL, and wait until the process is gone. */
  kill(): Promise<void>;
}

export async function forkWorker(stack: TestStack, env: Record<string, string | undefined> = {}): Promise<WorkerProcess> {
  const child = fork(path.join(__dirname, '..', '..', 'workers', 'main.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      DATABASE_URL: stack.database.url,
      TEMPORAL_ADDRESS: stack.config.TEMPORAL_ADDRESS,
      TEMPORAL_TASK_QUEUE: stack.config.TEMPORAL_TASK_QUEUE,
      OPERATOR_TOKEN: stack.operatorToken,
      SES_ENDPOINT: stack.sesEndpoint,
      KEY_PROVIDER: 'kms',
      KMS_ENDPOINT: process.env.TEST_KMS_ENDPOINT,
      LOG_LEVEL: 'fatal',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await Promise.race([
    new Promise<void>((resolve) => child.once('message', () => resolve())),
    exited.then((code) => Promise.reject(new Error(`the worker exited before it was ready (${String(code)})`))),
  ]);
  return {
    pid: child.pid!,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
