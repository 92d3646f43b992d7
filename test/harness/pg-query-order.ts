import { Client } from 'pg';

/**
 * A test file fails if any code it ran sent a query on a pg connection that was still busy with
 * another (e.g. `Promise.all` over one transaction's queries). pg queues them today (and warns
 * once three overlap); pg 9 will refuse them. Seen in the account, group and operator lists,
 * which asked for one row's details per row, all at once on the transaction's connection.
 *
 * Setup files share the test file's module registry, so this wraps the pg the code under test uses.
 */
const overlaps: string[] = [];
type Internals = { _activeQuery?: unknown; _queryQueue?: unknown[] };
const query = Client.prototype.query;
/** knex's ROLLBACK after an error may follow a query still running (a COPY cut off by its client): pg runs it next. */
const isRollback = (q: unknown) => /^\s*rollback\b/i.test(typeof q === 'string' ? q : ((q as { text?: string } | undefined)?.text ?? ''));
Client.prototype.query = function (this: Client & Internals, ...args: unknown[]) {
  const busy = this._activeQuery || (this._queryQueue?.length ?? 0) > 0;
  if (busy && !isRollback(args[0])) overlaps.push(new Error('a query sent while another was running on the same connection').stack!);
  return (query as (...a: unknown[]) => unknown).apply(this, args);
} as typeof Client.prototype.query;

afterAll(() => {
  Client.prototype.query = query;
  if (overlaps.length > 0) throw new Error(`${overlaps.length} queries were sent on a pg connection still busy with another:\n${overlaps.slice(0, 3).join('\n\n')}`);
});
