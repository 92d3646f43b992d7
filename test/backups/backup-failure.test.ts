import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { fetchLocalEmails } from '../../lib/local-ses';
import { call } from '../harness/http';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * A backup that cannot be made: here the worker was given a superuser's URL as
 * BACKUP_DATABASE_URL, which the backup refuses (it must read everything and change nothing).
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ BACKUP_DATABASE_URL: process.env.TEST_PG_SERVER_URL! });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

it('fails visibly: the generation is marked failed with the reason, nothing is deleted, and the operators get one mail', async () => {
  // Seven earlier verified generations, the oldest with an object on disk: retention would prune nothing anyway,
  // and a failure must never delete.
  const owner = stack.database.ownerDb;
  const earlier = Array.from({ length: 8 }, (_, i) => ({ id: randomUUID(), workflowId: `earlier-${i}`, trigger: 'schedule', state: 'verified', store: 'test', startedAt: new Date(Date.now() - (i + 1) * 86_400_000) }));
  await owner('backup_generations').insert(earlier);
  const oldest = earlier[earlier.length - 1]!;
  const kept = path.join(stack.config.BACKUP_DIR, 'generations', oldest.id, 'manifest');
  await mkdir(path.dirname(kept), { recursive: true });
  await writeFile(kept, '{}');

  const started = await call(stack.operatorUrl, 'POST', '/v1/operator/backups', { headers: { authorization: `Bearer ${stack.operatorToken}` } });
  expect(started.status).toBe(202);
  // A second start while the first runs is refused.
  const again = await call(stack.operatorUrl, 'POST', '/v1/operator/backups', { headers: { authorization: `Bearer ${stack.operatorToken}` } });
  expect([202, 409]).toContain(again.status);
  if (again.status === 409) expect(again.body.code).toBe('backup_running');

  const failure = await stack.temporal.client.workflow.getHandle(started.body.workflowId).result().catch((e: unknown) => e);
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  const row = await owner('backup_generations').where({ id: started.body.generationId }).first();
  expect(row.state).toBe('failed');
  expect(row.error).toMatch(/is a superuser/);
  expect(row.failureMailedAt).toBeInstanceOf(Date);
  expect(await owner('backup_generations').whereIn('id', earlier.map((g) => g.id)).where({ state: 'verified' }).count('* as n').first()).toEqual({ n: '8' });
  expect(await readFile(kept, 'utf8')).toBe('{}');
  const mails = (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.subject.includes(started.body.generationId));
  expect(mails).toHaveLength(1);
  expect(mails[0]!.body.text).toMatch(/is a superuser/);
}, 60_000);

it('lists generations newest first, page by page with a cursor, none skipped or repeated; a forged cursor is 400', async () => {
  const auth = { authorization: `Bearer ${stack.operatorToken}` };
  // Five more, two of them started at the same instant: the order breaks that tie by id.
  const same = new Date(Date.now() - 30 * 86_400_000);
  await stack.database.ownerDb('backup_generations').insert(
    [same, same, ...[31, 32, 33].map((d) => new Date(Date.now() - d * 86_400_000))].map((startedAt, i) => ({ id: randomUUID(), workflowId: `paged-${i}`, trigger: 'schedule', state: 'pruned', store: 'test', startedAt })),
  );
  const all = await stack.database.ownerDb('backup_generations').orderBy([{ column: 'started_at', order: 'desc' }, { column: 'id', order: 'desc' }]).pluck('id');
  expect(all.length).toBeGreaterThanOrEqual(5);
  const seen: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 10; page += 1) {
    const res: { status: number; body: any } = await call(stack.operatorUrl, 'GET', `/v1/operator/backups?limit=4${cursor ? `&cursor=${cursor}` : ''}`, { headers: auth });
    expect([res.status, res.body.code]).toEqual([200, undefined]);
    expect(res.body.items.length).toBeLessThanOrEqual(4);
    seen.push(...res.body.items.map((g: { id: string }) => g.id));
    cursor = res.body.nextCursor;
    if (!cursor) break;
  }
  expect(seen).toEqual(all);
  const forged = await call(stack.operatorUrl, 'GET', `/v1/operator/backups?cursor=${Buffer.from('["2026-13-01T00:00:00.000000Z","x"]').toString('base64url')}`, { headers: auth });
  expect([forged.status, forged.body.code]).toEqual([400, 'invalid_cursor']);
});
