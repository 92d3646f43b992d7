import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { proceed, releaseDemo } from './releases/release-n';
import '../harness/stack'; // quiet SDK runtime logs

/**
 * A release while workflows are running (README "Releases"): executions started on release N
 * wait, release N+1 replaces the workers, and both the old executions and new ones complete —
 * the old ones on the code path they started with, because the change is guarded by `patched()`.
 * The same change without the guard is caught by replay before it ships.
 */
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const bundle = (file: string) => bundleWorkflowCode({ workflowsPath: require.resolve(`./releases/${file}`), logger: quiet });

// Which executions ran their first step (activities run in this process).
const welcomed = new Set<string>();
let onWelcome = () => {};
const activities = {
  welcome: async (id: string) => {
    welcomed.add(id);
    onWelcome();
    return `welcome:${id}`;
  },
  welcomeWithGuide: async (id: string) => `welcome+guide:${id}`,
  finish: async (id: string) => `finish:${id}`,
};

let nativeConnection: NativeConnection;
let connection: Connection;
let client: Client;
let bundles: Record<'n' | 'n1' | 'n1Unpatched', WorkflowBundleWithSourceMap>;
const taskQueue = `release-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  const address = process.env.TEST_TEMPORAL_ADDRESS!;
  nativeConnection = await NativeConnection.connect({ address });
  connection = await Connection.connect({ address });
  client = new Client({ connection });
  const [n, n1, n1Unpatched] = await Promise.all([bundle('release-n'), bundle('release-n1'), bundle('release-n1-unpatched')]);
  bundles = { n, n1, n1Unpatched };
}, 120_000);

afterAll(async () => {
  await connection?.close();
  await nativeConnection?.close();
});

/** Runs a worker of one release until `during` is done, then shuts it down as a deploy would. */
async function withRelease(release: keyof typeof bundles, during: () => Promise<void>): Promise<void> {
  const worker = await Worker.create({ connection: nativeConnection, taskQueue, workflowBundle: bundles[release], activities });
  await worker.runUntil(during());
}

it('executions started on release N complete on release N+1 with their original steps; new ones take the new steps', async () => {
  const old = ['a', 'b', 'c'].map((s) => `${taskQueue}-old-${s}`);
  // Release N: executions start and pass their first step, then wait (for days, in production).
  await withRelease('n', async () => {
    const allWelcomed = new Promise<void>((resolve) => (onWelcome = () => old.every((id) => welcomed.has(id)) && resolve()));
    for (const id of old) await client.workflow.start(releaseDemo, { taskQueue, workflowId: id, args: [id] });
    // Shutting the worker down waits for these activities' results to reach the server.
    await allWelcomed;
  });

  // Release N+1 replaces the workers; the old executions resume on it, new ones start on it.
  const fresh = ['d', 'e'].map((s) => `${taskQueue}-new-${s}`);
  await withRelease('n1', async () => {
    for (const id of fresh) await client.workflow.start(releaseDemo, { taskQueue, workflowId: id, args: [id] });
    for (const id of [...old, ...fresh]) await client.workflow.getHandle(id).signal(proceed);
    const results = await Promise.all([...old, ...fresh].map((id) => client.workflow.getHandle(id).result()));
    expect(results).toEqual([
      ...old.map((id) => [`welcome:${id}`, `finish:${id}`]),
      ...fresh.map((id) => [`welcome+guide:${id}`, `finish:${id}`]),
    ]);
  });

  // Determinism: an old execution's full history replays on N+1, and would not on the unguarded change.
  const history = await client.workflow.getHandle(old[0]!).fetchHistory();
  await Worker.runReplayHistory({ workflowBundle: bundles.n1 }, history, old[0]);
  await expect(Worker.runReplayHistory({ workflowBundle: bundles.n1Unpatched }, history, old[0])).rejects.toBeInstanceOf(DeterminismViolationError);
});
