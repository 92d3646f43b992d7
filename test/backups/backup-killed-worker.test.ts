import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createBackupStore } from '../../lib/storage/backup-store';
import { eventually } from '../harness/clinic';
import { startTestStack, type TestStack } from '../harness/stack';
import { forkWorker } from '../harness/worker-process';

/** Linux's view of a process: its parent, nice value and command line (/proc/<pid>/stat and cmdline). */
function processes(): Array<{ pid: number; ppid: number; nice: number; cmdline: string }> {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // After the command name in parentheses: state, ppid, … the nice value is the 17th field.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      found.push({ pid: Number(entry), ppid: Number(fields[1]), nice: Number(fields[16]), cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ') });
    } catch {
      // gone while we looked
    }
  }
  return found;
}

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
  // The snapshot runs in a process of the worker's own, at the lower CPU priority BACKUP_NICE (default 10).
  const writer = () => processes().find((p) => p.ppid === doomed.pid && p.cmdline.includes('write-child'));
  await eventually('the worker started its backup process', async () => writer() !== undefined, 30_000);
  expect(writer()!.nice).toBe(10);
  const writerPid = writer()!.pid;
  const generationId = (await stack.database.ownerDb('backup_generations').first('id')).id as string;
  const scratch = path.join(os.tmpdir(), `forclinic-backup-${generationId}`);
  await eventually('the snapshot writes its scratch files', async () => existsSync(scratch) && readdirSync(scratch).length > 0, 30_000);
  await doomed.kill();
  // It dies with the worker: nothing goes on writing a generation nobody will record.
  await eventually('the backup process is gone with its worker', async () => !existsSync(`/proc/${writerPid}`) || /\) Z/.test(readFileSync(`/proc/${writerPid}/stat`, 'utf8')), 10_000);
  const during = await stack.database.ownerDb('backup_generations').first();
  expect(during.state).toBe('running');
  // A killed process runs no cleanup: its sealed table files stay until a retry (or a day's sweep) removes them.
  expect(readdirSync(scratch).length).toBeGreaterThan(0);

  await stack.startWorker();
  const result = (await handle.result()) as { generationId: string; outcome: string };
  expect(result.outcome).toBe('verified');
  const row = await stack.database.ownerDb('backup_generations').where({ id: result.generationId }).first();
  expect(row.state).toBe('verified');
  expect(row.manifest.tables.find((t: { name: string }) => t.name === 'rate_limits').rows).toBe(600000);
  // Exactly the objects of the manifest: nothing left over from the killed attempt.
  const stored = await createBackupStore(env).list(`generations/${result.generationId}/`);
  expect(stored).toEqual([...row.manifest.tables.map((t: { object: { key: string } }) => t.object.key), `generations/${result.generationId}/manifest`].sort());
  // The killed attempt's sealed scratch files are gone too: the retry on this host removed them first.
  expect(result.generationId).toBe(generationId);
  expect(existsSync(scratch)).toBe(false);
  const history = await handle.fetchHistory();
  const attempts = history.events?.find((e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.attempt && e.activityTaskStartedEventAttributes.attempt > 1);
  expect(attempts).toBeDefined();
}, 240_000);
