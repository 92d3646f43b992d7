import { Writable } from 'node:stream';
import { copyAuditCsv } from '../../db/audit';
import { CsvCopyOut } from '../../db/copy-out';
import { withTenant } from '../../db/tenant-scope';
import { call } from '../harness/http';
import { clinicWithAdmin } from '../harness/clinic';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * The CSV export runs on PostgreSQL's COPY (test/api/audit-logs.test.ts holds the format's
 * basics). Here: filters reach COPY intact, cells with line breaks keep them while records end
 * in CRLF, and readers that hang up early leave no connection behind.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ DATABASE_POOL_MAX: '3' });
});
afterAll(async () => {
  await stack?.stop();
});

const csv = async (token: string, query = '') => {
  const res = await fetch(`${stack.url}/v1/audit-logs.csv${query}`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer()).toString('utf8').slice(1);
};

/** Log entries written as the owner (the chain trigger stamps them as for any writer). */
async function seed(tenantId: string, n: number, fields: { action?: string; targetId?: string; userAgent?: string } = {}) {
  await stack.database.ownerDb.raw(
    `insert into audit_events (tenant_id, actor_type, actor_id, actor_roles, action, outcome, target_type, target_id, user_agent, details)
     select ?, 'system', 'system', '{}', ?, 'success', 'patient', ?, ?, jsonb_build_object('n', g) from generate_series(1, ?) g`,
    [tenantId, fields.action ?? 'bench.row', fields.targetId ?? 'p-1', fields.userAgent ?? 'agent', n],
  );
}

describe('CSV export through COPY', () => {
  it('applies every filter, with values that would break naive SQL', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    const nasty = `x'); drop table audit_events; --"\\`;
    await seed(clinic.id, 2, { action: 'patient.read', targetId: nasty });
    await seed(clinic.id, 3, { action: 'patient.read', targetId: 'other' });
    await seed(clinic.id, 4, { action: 'patientXread', targetId: nasty });
    const byTarget = (await csv(token, `?target=${encodeURIComponent(nasty)}&action=patient.read&outcome=success&actor=system`)).split('\r\n').slice(1, -1);
    expect(byTarget).toHaveLength(2);
    // The target cell is quoted (it holds a quote), its quote doubled.
    expect(byTarget[0]).toContain(`"x'); drop table audit_events; --""\\"`);
    // A prefix filter's "_" and "." are literal characters, not patterns.
    const byPrefix = (await csv(token, '?action=patient.*')).split('\r\n').slice(1, -1);
    expect(byPrefix.every((l) => l.includes(',patient.read,'))).toBe(true);
    expect(byPrefix).toHaveLength(5);
    const none = await csv(token, `?from=${encodeURIComponent(new Date(Date.now() + 3600_000).toISOString())}&to=${encodeURIComponent(new Date(Date.now() + 7200_000).toISOString())}`);
    expect(none).toBe('seq,occurred_at,actor_type,actor_id,actor_roles,action,target_type,target_id,outcome,client_ip,user_agent,request_id,details,hash\r\n');
  });

  it('frees the clinic\'s export slot before the client sees the end: the next export may start at once', async () => {
    const { token } = await clinicWithAdmin(stack);
    // Each waits for the previous one's last byte; before, the slot stayed taken until its
    // transaction had committed, a moment after the end, and a quick client got 429.
    for (let i = 0; i < 20; i += 1) expect(await csv(token)).toMatch(/^seq,/);
  });

  it('ends records with CRLF and keeps line breaks inside cells; formulas stay neutralised', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    await seed(clinic.id, 1, { userAgent: 'line one\nline two', targetId: '-1+1' });
    await seed(clinic.id, 1, { userAgent: '', targetId: '@x' });
    const text = await csv(token);
    const rows = text.split('\r\n');
    const multi = rows.find((r) => r.includes('line one'))!;
    expect(multi).toContain('"line one\nline two"');
    expect(multi).toContain(`,'-1+1,`);
    // An empty cell stays empty (not ""), and no LF ends a record.
    const empty = rows.find((r) => r.includes(`'@x`))!;
    expect(empty).toMatch(/,'@x,success,,,,"\{""n"": 1\}",[0-9a-f]{64}$/);
    expect(text.replace(/"(?:[^"]|"")*"/g, '').split('\n').every((l, i, all) => i === all.length - 1 || l.endsWith('\r'))).toBe(true);
    // details is PostgreSQL's own JSON text: the same text the hash chain covers.
    expect(text).toContain('"{""n"": 1}"');
  });

  it('releases its connection when the reader hangs up halfway', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    // Many entries at once, stamped directly (a chained insert of this many in one transaction is slow).
    const owner = stack.database.ownerDb;
    await owner.raw(`alter table audit_events disable trigger audit_events_chain`);
    try {
      await owner.raw(
        `insert into audit_events (tenant_id, actor_type, action, outcome, details, seq, prev_hash, hash)
         select ?, 'system', 'bench.row', 'success', '{}', 1000000 + g, '\\x00', sha256(int8send(g)) from generate_series(1, 60000) g`,
        [clinic.id],
      );
    } finally {
      await owner.raw(`alter table audit_events enable trigger audit_events_chain`);
    }
    // More aborted exports than the pool has connections (3).
    for (let i = 0; i < 5; i += 1) {
      const abort = new AbortController();
      const res = await fetch(`${stack.url}/v1/audit-logs.csv`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
      const reader = res.body!.getReader();
      await reader.read();
      abort.abort();
      await reader.cancel().catch(() => undefined);
    }
    // HEAD gets the headers only and reads nothing: more of them than the pool has connections,
    // and none is logged as an export (nothing was exported).
    const exportsLogged = async () => (await owner('audit_events').where({ tenant_id: clinic.id, action: 'audit_log.export' }).count({ n: '*' }))[0]!.n;
    const logged = await exportsLogged();
    for (let i = 0; i < 5; i += 1) {
      const head = await fetch(`${stack.url}/v1/audit-logs.csv`, { method: 'HEAD', headers: { authorization: `Bearer ${token}` } });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-type')).toBe('text/csv; charset=utf-8');
      expect(await head.text()).toBe('');
    }
    expect(await exportsLogged()).toBe(logged);
    // The API still answers at once, and a whole export still works.
    const started = Date.now();
    expect((await call(stack.url, 'GET', '/v1/me', { token })).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(5_000);
    const lines = (await csv(token)).split('\r\n');
    expect(lines.length).toBeGreaterThan(60_000);
    // Each chunk's memory is freed as soon as it is written (lib/socket-chunks.ts): none was freed early.
    const seqs = lines.slice(1, -1).map((l) => Number(l.split(',')[0])).filter((seq) => seq > 1_000_000);
    expect(seqs).toEqual(Array.from({ length: 60_000 }, (_, i) => 1_000_001 + i));
    // Every record whole, across the many socket chunks COPY arrived in.
    expect(lines.slice(1, -1).filter((l) => !/^\d+,\d{4}-\d{2}-\d{2}T[\d:.]+Z,(account|operator|system|anonymous),[^\r\n]*,[0-9a-f]{64}$/.test(l))).toEqual([]);
  });

  it('reports an error from PostgreSQL, before or during COPY, and the pool stays usable', async () => {
    const { clinic } = await clinicWithAdmin(stack);
    const db = stack.database.db;
    const discard = () => new Writable({ write: (_c, _e, done) => done() });
    // Refused before any row: the server answers ErrorResponse instead of CopyOutResponse.
    await expect(
      withTenant(db, clinic.id, async (trx) => {
        const connection = await (trx.client as unknown as { acquireConnection(): Promise<{ query<T>(q: T): T }> }).acquireConnection();
        const rows = connection.query(new CsvCopyOut('copy (select 1 / 0) to stdout with (format csv)'));
        for await (const _ of rows) void _;
      }),
    ).rejects.toThrow(/division by zero/);
    // Failing in the middle of the rows: the rows before arrive, then the error.
    let received = 0;
    await expect(
      withTenant(db, clinic.id, async (trx) => {
        const connection = await (trx.client as unknown as { acquireConnection(): Promise<{ query<T>(q: T): T }> }).acquireConnection();
        const rows = connection.query(new CsvCopyOut(`copy (select g, 1 / (g - 5000) from generate_series(1, 6000) g) to stdout with (format csv)`));
        for await (const chunk of rows) received += (chunk as Buffer).toString().split('\r\n').length - 1;
      }),
    ).rejects.toThrow(/division by zero/);
    expect(received).toBeLessThan(5000);
    // And the export itself still runs on the same pool.
    await withTenant(db, clinic.id, (trx) => copyAuditCsv(trx, { from: new Date(0), to: new Date(Date.now() + 60_000) }, discard()));
    for (let i = 0; i < 5; i += 1) expect((await db.raw('select 1 as one')).rows[0].one).toBe(1);
  });
});

