import { createDb, preparedQuery, type Db } from '../../db/connection';
import { createTestDatabase, type TestDatabase } from '../harness/database';

/**
 * Named prepared statements (session authentication runs as one) outlive a migration that
 * changes their result columns: PostgreSQL then refuses the statement on every connection that
 * prepared it. The query must still answer, on another connection, and the stale one must leave
 * the pool.
 */
let t: TestDatabase;
let db: Db;
beforeAll(async () => {
  t = await createTestDatabase();
  // Three connections, all of which prepare the statement before the change.
  db = createDb({ url: t.url, poolMax: 3, applicationName: 'for-clinic-test-prepared' });
});
afterAll(async () => {
  await db?.destroy();
  await t?.drop();
});

it('answers with the new columns after a migration changed them under a live pool, on a fresh connection', async () => {
  // It holds its connection a moment, so that three calls at once use all three.
  await t.ownerDb.raw(`create function prepared_probe() returns table (a int) language sql as 'select 1 from pg_sleep(0.05)'`);
  const sql = 'select * from prepared_probe()';
  const pids = async () => new Set(await Promise.all([1, 2, 3].map(async () => (await preparedQuery<{ pid: number }>(db, 'prepared_pid', 'select pg_backend_pid() as pid from pg_sleep(0.05)', []))[0]!.pid)));
  expect(await Promise.all([1, 2, 3].map(() => preparedQuery(db, 'prepared_probe', sql, [])))).toEqual([[{ a: 1 }], [{ a: 1 }], [{ a: 1 }]]);
  const before = await pids();
  expect(before.size).toBe(3);

  // What a migration that changes session_auth's return type does to a running API.
  await t.ownerDb.raw('drop function prepared_probe()');
  await t.ownerDb.raw(`create function prepared_probe() returns table (a int, b text) language sql as $$select 2, 'two' from pg_sleep(0.05)$$`);
  // One after another: each call may draw every stale connection in turn before a fresh one.
  for (let i = 0; i < 4; i += 1) expect(await preparedQuery(db, 'prepared_probe', sql, [])).toEqual([{ a: 2, b: 'two' }]);
  expect(await Promise.all([1, 2, 3].map(() => preparedQuery(db, 'prepared_probe', sql, [])))).toEqual([[{ a: 2, b: 'two' }], [{ a: 2, b: 'two' }], [{ a: 2, b: 'two' }]]);
  // None of the connections that had prepared it is left in the pool.
  const after = await pids();
  expect([...after].filter((pid) => before.has(pid))).toEqual([]);
});

it('passes other errors on, and the connection stays usable', async () => {
  await expect(preparedQuery(db, 'prepared_fails', 'select 1 / $1::int as x', [0])).rejects.toMatchObject({ code: '22012' });
  expect(await preparedQuery(db, 'prepared_fails', 'select 1 / $1::int as x', [1])).toEqual([{ x: 1 }]);
});
