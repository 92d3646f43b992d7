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
  // One connection, so the second call finds the statement prepared before the change.
  db = createDb({ url: t.url, poolMax: 1, applicationName: 'for-clinic-test-prepared' });
});
afterAll(async () => {
  await db?.destroy();
  await t?.drop();
});

const backendPid = async () => Number(((await db.raw('select pg_backend_pid() as pid')).rows[0] as { pid: number }).pid);

it('answers with the new columns after a migration changed them under a live pool, on a fresh connection', async () => {
  await t.ownerDb.raw(`create function prepared_probe() returns table (a int) language sql as 'select 1'`);
  const sql = 'select * from prepared_probe()';
  expect(await preparedQuery(db, 'prepared_probe', sql, [])).toEqual([{ a: 1 }]);
  expect(await preparedQuery(db, 'prepared_probe', sql, [])).toEqual([{ a: 1 }]);
  const before = await backendPid();

  // What a migration that changes session_auth's return type does to a running API.
  await t.ownerDb.raw('drop function prepared_probe()');
  await t.ownerDb.raw(`create function prepared_probe() returns table (a int, b text) language sql as $$select 2, 'two'$$`);
  expect(await preparedQuery(db, 'prepared_probe', sql, [])).toEqual([{ a: 2, b: 'two' }]);
  expect(await preparedQuery(db, 'prepared_probe', sql, [])).toEqual([{ a: 2, b: 'two' }]);
  expect(await backendPid()).not.toBe(before);
});

it('passes other errors on, and the connection stays usable', async () => {
  await expect(preparedQuery(db, 'prepared_fails', 'select 1 / $1::int as x', [0])).rejects.toMatchObject({ code: '22012' });
  expect(await preparedQuery(db, 'prepared_fails', 'select 1 / $1::int as x', [1])).toEqual([{ x: 1 }]);
});
