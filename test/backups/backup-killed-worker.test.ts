import { createBackupStore } from '../../lib/storage/backup-store';
import { eventually } from '../harness/clinic';
import { startTestStack, type TestStack } from '../harness/stack';
import { forkWorker } from '../harness/worker-process';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({}, { worker: false });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

it('a worker killed mid-backup leaves no generation marked complete, and the retry on another worker writes a correct one', async () => {
  // Enough rows that the snapshot takes a while.
  await stack.database.ownerDb.raw(`insert into rate_limits (key, window_start, count) select 'bulk:' || g, now(), g from generate_series(1, 600000) g`);
  const env = stack.config;
  const doomed = await forkWorker(stack, { BACKUP_DATABASE_URL: env.BACKUP_DATABASE_URL, BACKUP_DIR: env.BACKUP_DIR, OPERATOR_EMAILS: 'ops@forclinic.example' });

  const workflowId = `test-backup-killed-${Date.now()}`;
  const handle = await stack.temporal.client.workflow.start('backupWorkflow', { taskQueue: env.TEMPORAL_TASK_QUEUE, workflowId, args: [{ trigger: 'operator' }] });
  await eventually(
    'the snapshot is under way',
    async () => ((await handle.describe()).raw.pendingActivities ?? []).some((a) => a.activityType?.name === 'writeBackup' && a.heartbeatDetails),
    60_000,
  );
  await doomed.kill();
  const during = await stack.database.ownerDb('backup_generations').first();
  expect(during.state).toBe('running');

  await stack.startWorker();
  const result = (await handle.result()) as { generationId: string; outcome: string };
  expect(result.outcome).toBe('verified');
  const row = await stack.database.ownerDb('backup_generations').where({ id: result.generationId }).first();
  expect(row.state).toBe('verified');
  expect(row.manifest.tables.find((t: { name: string }) => t.name === 'rate_limits').rows).toBe(600000);
  // Exactly the objects of the manifest: nothing left over from the killed attempt.
  const stored = await createBackupStore(env).list(`generations/${result.generationId}/`);
  expect(stored).toEqual([...row.manifest.tables.map((t: { object: { key: string } }) => t.object.key), `generations/${result.generationId}/manifest`].sort());
  const history = await handle.fetchHistory();
  const attempts = history.events?.find((e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.attempt && e.activityTaskStartedEventAttributes.attempt > 1);
  expect(attempts).toBeDefined();
}, 240_000);
