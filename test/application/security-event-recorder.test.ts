import { randomUUID } from 'node:crypto';
import { SecurityEventRecorder, type RecorderLimits } from '../../application/security/security-event-recorder';
import { NO_CLINIC } from '../../domain/ids';
import { createLogger } from '../../lib/logger';
import { createTestDatabase, type TestDatabase } from '../harness/database';

/**
 * How much database work an attacker can cause through the record of denied attempts: attempts of
 * one source arriving together are written by a handful of statements, not one each; writes run
 * at most `writers` at a time; the number of sources waiting is capped; a stalled database does
 * not hold answers back longer than `waitMs`. Observed on a real database (knex's query events).
 */
let t: TestDatabase;
const warnings: Array<Record<string, unknown>> = [];
const log = createLogger({ level: 'warn', destination: { write: (s: string) => void warnings.push(JSON.parse(s)) } });
/** Upserts of security_events: started, and the most running at once. */
const upserts = { started: 0, running: 0, most: 0 };

beforeAll(async () => {
  t = await createTestDatabase();
  t.db.on('query', (q: { sql: string }) => {
    if (!q.sql.startsWith('insert into security_events')) return;
    upserts.started += 1;
    upserts.running += 1;
    upserts.most = Math.max(upserts.most, upserts.running);
  });
  const done = (_r: unknown, q: { sql: string }) => {
    if (q.sql.startsWith('insert into security_events')) upserts.running -= 1;
  };
  t.db.on('query-response', done);
  t.db.on('query-error', (_e: unknown, q: { sql: string }) => done(undefined, q));
});
afterAll(async () => {
  await t?.drop();
});
beforeEach(() => {
  Object.assign(upserts, { started: 0, running: 0, most: 0 });
  warnings.length = 0;
});

const recorder = (limits: Partial<RecorderLimits> = {}) => new SecurityEventRecorder({ db: t.db, log }, { writers: 2, pendingKeys: 1_000, waitMs: 5_000, ...limits });
const rowsFrom = (clientNet: string) => t.ownerDb('security_events').where({ client_net: clientNet });
const total = (rows: Array<{ attempts: number }>) => rows.reduce((n, r) => n + r.attempts, 0);

describe('the record of denied attempts', () => {
  it('writes a flood from one source with two statements, and counts every attempt', async () => {
    const r = recorder();
    await Promise.all(Array.from({ length: 500 }, () => r.record({ kind: 'operator_token', clientIp: '198.51.100.1', route: 'GET /v1/operator/tenants' })));
    // The first attempt's write, then everything that arrived meanwhile in one more.
    expect(upserts.started).toBe(2);
    const rows = await rowsFrom('198.51.100.1');
    expect(total(rows)).toBe(500);
    expect(rows.every((row: { tenantId: string; routes: string[] }) => row.tenantId === NO_CLINIC && row.routes.length === 1)).toBe(true);
  });

  it('runs at most `writers` statements at once, across many sources', async () => {
    const r = recorder({ writers: 2 });
    await Promise.all(Array.from({ length: 40 }, (_, i) => r.record({ kind: 'not_found', clientIp: `2001:db8:40:${i}::1`, accountId: randomUUID() })));
    expect(upserts.most).toBeLessThanOrEqual(2);
    expect(upserts.started).toBe(40);
    expect(await t.ownerDb('security_events').where('client_net', 'like', '2001:db8:40:%')).toHaveLength(40);
  });

  it('keeps at most `pendingKeys` sources waiting and drops (and reports) the rest', async () => {
    const r = recorder({ writers: 1, pendingKeys: 5 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => r.record({ kind: 'operator_token', clientIp: `192.0.2.${i + 1}` })));
    // One being written when the others arrived, five waiting; fourteen dropped.
    expect(await t.ownerDb('security_events').whereIn('client_net', Array.from({ length: 20 }, (_, i) => `192.0.2.${i + 1}`))).toHaveLength(6);
    expect(warnings.map((w) => w.msg)).toEqual(['too many sources of denied attempts at once: attempts dropped from the record']);
  });

  it('answers after `waitMs` while the database is stalled, and still writes once it is not', async () => {
    const r = recorder({ waitMs: 300 });
    await r.record({ kind: 'not_found', clientIp: '192.0.2.77' });
    // Another session keeps every writer of the table waiting, as a stalled database would.
    const locker = await t.ownerDb.transaction();
    try {
      await locker.raw('lock table security_events in exclusive mode');
      const started = Date.now();
      await r.record({ kind: 'not_found', clientIp: '192.0.2.77' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(total(await rowsFrom('192.0.2.77'))).toBe(1);
    } finally {
      await locker.commit();
    }
    // The write went on after the answer: the next attempt of the source queues behind it and sees it done.
    await r.record({ kind: 'not_found', clientIp: '192.0.2.77' });
    expect(total(await rowsFrom('192.0.2.77'))).toBe(3);
  });

  it('never throws: a failed write is a warning', async () => {
    const r = recorder();
    await t.ownerDb.raw('revoke insert, update on security_events from forclinic_app');
    try {
      await expect(r.record({ kind: 'ip_denied', tenantId: randomUUID(), clientIp: '192.0.2.99' })).resolves.toBeUndefined();
    } finally {
      await t.ownerDb.raw('grant insert, update on security_events to forclinic_app');
    }
    expect(warnings.map((w) => w.msg)).toEqual(['denied attempts not recorded']);
    expect(await rowsFrom('192.0.2.99')).toEqual([]);
  });
});
