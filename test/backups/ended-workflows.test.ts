import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { dropDatabase, ensureDatabase, withDatabase } from '../../db/database';
import { recordHistory } from '../harness/history';
import { call } from '../harness/http';
import { fetchLocalEmails } from '../../lib/local-ses';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * A backup or restore test whose workflow ended without finishing it (here: terminated, as an
 * operator does in the Temporal UI) must not leave its row `running`: that blocked the next
 * backup for up to 24 hours and the next restore test for 6, and left the test's scratch
 * database — a full restored copy of every clinic — on the verification server for good. The
 * outbox sweeper settles both within a minute; this runs it once, as its schedule does.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

const auth = () => ({ headers: { authorization: `Bearer ${stack.operatorToken}` } });

/** A workflow of that id that ran and was terminated: no worker polls its queue, so it never did anything. */
async function terminatedWorkflow(workflowId: string, workflowType: string): Promise<void> {
  const handle = await stack.temporal.client.workflow.start(workflowType, { workflowId, taskQueue: `nobody-${randomUUID()}`, args: [{}] });
  await handle.terminate('an operator ended it in the Temporal UI');
}

async function databaseExists(name: string): Promise<boolean> {
  const client = new Client({ connectionString: withDatabase(process.env.TEST_PG_SERVER_URL!, 'postgres') });
  await client.connect();
  try {
    return (await client.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1;
  } finally {
    await client.end();
  }
}

it('fails a generation whose workflow was terminated, so an operator can start the next backup at once', async () => {
  const owner = stack.database.ownerDb;
  const generationId = randomUUID();
  const workflowId = `backup/${generationId}`;
  await owner('backup_generations').insert({ id: generationId, workflowId, trigger: 'operator', state: 'running', store: 'test' });
  // A running workflow is left alone.
  const alive = await stack.temporal.client.workflow.start('backupWorkflow', { workflowId, taskQueue: `nobody-${randomUUID()}`, args: [{ generationId }] });
  await stack.sweepOutbox();
  expect((await owner('backup_generations').where({ id: generationId }).first()).state).toBe('running');
  const refused = await call(stack.operatorUrl, 'POST', '/v1/operator/backups', auth());
  expect([refused.status, refused.body.code]).toEqual([409, 'backup_running']);

  await alive.terminate('an operator ended it in the Temporal UI');
  const swept = (await stack.sweepOutbox()) as { backups?: { generationsFailed: number } };
  expect(swept.backups?.generationsFailed).toBe(1);
  const row = await owner('backup_generations').where({ id: generationId }).first();
  expect(row.state).toBe('failed');
  expect(row.error).toBe(`its workflow ${workflowId} ended (TERMINATED) without finishing it`);
  expect(row.finishedAt).toBeInstanceOf(Date);
  // The operators hear of it as of any failed backup, once.
  expect(row.failureMailedAt).toBeInstanceOf(Date);
  const mails = (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.subject.includes(generationId));
  expect(mails.map((m) => m.destination.to[0])).toEqual(['ops@forclinic.example']);
  expect(mails[0]!.body.text).toContain('TERMINATED');

  const started = await call(stack.operatorUrl, 'POST', '/v1/operator/backups', auth());
  expect(started.status).toBe(202);
  await stack.resultOf(started.body.workflowId);
  expect(((await stack.sweepOutbox()) as { backups?: { generationsFailed: number } }).backups?.generationsFailed).toBe(0);
}, 120_000);

it('fails a generation written but never verified because its workflow was terminated in between, keeping what it wrote, and tells the operators', async () => {
  const owner = stack.database.ownerDb;
  const generationId = randomUUID();
  const workflowId = `backup/${generationId}`;
  await owner('backup_generations').insert({ id: generationId, workflowId, trigger: 'operator', state: 'written', store: 'test', sizeBytes: 1234 });
  await terminatedWorkflow(workflowId, 'backupWorkflow');
  const swept = (await stack.sweepOutbox()) as { backups?: { generationsFailed: number } };
  expect(swept.backups?.generationsFailed).toBe(1);
  const row = await owner('backup_generations').where({ id: generationId }).first();
  expect([row.state, row.error, Number(row.sizeBytes)]).toEqual([
    'failed',
    `its workflow ${workflowId} ended (TERMINATED) after writing it, before verifying it: what it wrote is kept, but it is not a backup to count on`,
    1234,
  ]);
  const mails = (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.subject.includes(generationId));
  expect(mails).toHaveLength(1);
  expect(((await stack.sweepOutbox()) as { backups?: { generationsFailed: number } }).backups?.generationsFailed).toBe(0);
}, 120_000);

it('fails a restore test whose workflow was terminated and drops the restored copy it left on the verification server', async () => {
  const owner = stack.database.ownerDb;
  const generationId = randomUUID();
  await owner('backup_generations').insert({ id: generationId, workflowId: `earlier-${generationId}`, trigger: 'schedule', state: 'verified', store: 'test' });
  const restoreTestId = randomUUID();
  const workflowId = `restore-test/${restoreTestId}`;
  await owner('backup_restore_tests').insert({ id: restoreTestId, generationId, workflowId, trigger: 'operator', state: 'running' });
  // What the ended run had restored so far.
  const scratch = `forclinic_restore_${restoreTestId.replace(/-/g, '').slice(0, 16)}`;
  await ensureDatabase(stack.config.RESTORE_TEST_DATABASE_URL!, scratch);
  expect(await databaseExists(scratch)).toBe(true);
  // Not found in Temporal (its start may still be in the outbox): not taken for ended.
  await stack.sweepOutbox();
  expect((await owner('backup_restore_tests').where({ id: restoreTestId }).first()).state).toBe('running');

  await terminatedWorkflow(workflowId, 'restoreTestWorkflow');
  const sweeper = await stack.temporal.client.workflow.start('workflowOutboxSweepWorkflow', { taskQueue: stack.config.TEMPORAL_TASK_QUEUE, workflowId: `outbox-sweep-${randomUUID()}` });
  const swept = (await sweeper.result()) as { backups?: { restoreTestsFailed: number } };
  await recordHistory(sweeper, 'workflow-outbox-sweep-settles-restore-test');
  expect(swept.backups?.restoreTestsFailed).toBe(1);
  const row = await owner('backup_restore_tests').where({ id: restoreTestId }).first();
  expect(row.state).toBe('failed');
  expect(row.error).toMatch(/ended \(TERMINATED\) without finishing it; its scratch database was dropped$/);
  expect(await databaseExists(scratch)).toBe(false);
  expect(row.failureMailedAt).toBeInstanceOf(Date);
  const listed = await call(stack.operatorUrl, 'GET', `/v1/operator/backups/${generationId}/restore-tests`, auth());
  expect(listed.status).toBe(200);
  expect(JSON.stringify(listed.body)).toContain('TERMINATED');
}, 120_000);

it('drops the scratch database a failed restore test left (a worker killed mid-restore never ran its own drop), and none that is not ours', async () => {
  const owner = stack.database.ownerDb;
  const generationId = randomUUID();
  await owner('backup_generations').insert({ id: generationId, workflowId: `earlier-${generationId}`, trigger: 'schedule', state: 'verified', store: 'test' });
  const restoreTestId = randomUUID();
  await owner('backup_restore_tests').insert({ id: restoreTestId, generationId, workflowId: `restore-test/${restoreTestId}`, trigger: 'operator', state: 'failed', error: 'activity Heartbeat timeout' });
  const scratchOf = (id: string) => `forclinic_restore_${id.replace(/-/g, '').slice(0, 16)}`;
  // Another deployment's test on the same verification server: not ours to drop.
  const foreign = scratchOf(randomUUID());
  for (const name of [scratchOf(restoreTestId), foreign]) await ensureDatabase(stack.config.RESTORE_TEST_DATABASE_URL!, name);

  const swept = (await stack.sweepOutbox()) as { backups?: { scratchDropped: number } };
  expect(swept.backups?.scratchDropped).toBe(1);
  expect(await databaseExists(scratchOf(restoreTestId))).toBe(false);
  expect(await databaseExists(foreign)).toBe(true);
  await dropDatabase(stack.config.RESTORE_TEST_DATABASE_URL!, foreign);
}, 120_000);
