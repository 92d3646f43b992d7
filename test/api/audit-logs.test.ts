import { japanDateOf } from '../../domain/japan-time';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { verifyAuditChain } from '../../db/audit';
import { withTenant } from '../../db/tenant-scope';
import { call } from '../harness/http';
import { activate, clinicWithAdmin, createAccount, eventually, STRONG_PASSWORD } from '../harness/clinic';
import { startTestStack, type TestStack } from '../harness/stack';
import { book, bookingClinic } from '../harness/consultations';
import { slotOn } from '../harness/slots';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

const all = async (token: string, query = '') => {
  const items: any[] = [];
  let cursor: string | null = null;
  do {
    const page: any = await call(stack.url, 'GET', `/v1/audit-logs?limit=50${query}${cursor ? `&cursor=${cursor}` : ''}`, { token });
    expect(page.status).toBe(200);
    items.push(...page.body.items);
    cursor = page.body.nextCursor;
  } while (cursor);
  return items;
};

describe('the operation log', () => {
  it('records logins, account changes and operator actions with who, what, when and from where', async () => {
    const { clinic, token, adminId } = await clinicWithAdmin(stack);
    const staff = await createAccount(stack, token, 'reception');
    await call(stack.url, 'PATCH', `/v1/accounts/${staff.accountId}`, { token, json: { roles: ['staff', 'doctor'] } });
    await call(stack.url, 'POST', '/v1/auth/login', { json: { tenant: clinic.slug, loginId: 'admin', password: 'Guessed-Secret-42' }, headers: { 'user-agent': 'test-agent/1.0' } });

    const entries = await all(token);
    const actions = entries.map((e) => e.action);
    for (const a of ['tenant.create', 'account.create', 'login', 'password.change', 'account.roles_change']) expect(actions).toContain(a);
    const roleChange = entries.find((e) => e.action === 'account.roles_change');
    expect(roleChange).toMatchObject({
      actor: { type: 'account', id: adminId, roles: ['admin'] },
      target: { type: 'account', id: staff.accountId },
      outcome: 'success',
      clientIp: '127.0.0.1',
      details: { from: ['staff'], to: ['staff', 'doctor'] },
    });
    expect(roleChange.requestId).toMatch(/.+/);
    expect(roleChange.occurredAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    const failed = entries.find((e) => e.action === 'login' && e.outcome === 'failed');
    expect(failed.userAgent).toBe('test-agent/1.0');
    expect(entries.find((e) => e.action === 'tenant.create').actor).toEqual({ type: 'operator', id: 'break-glass', name: 'break-glass', roles: ['viewer', 'support', 'security', 'platform-admin'] });
    // Newest first, strictly decreasing sequence.
    const seqs = entries.map((e) => Number(e.seq));
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    // No secrets in the log.
    expect(JSON.stringify(entries)).not.toMatch(/Guessed-Secret-42|Sakura-2026|initialPassword/);
  });

  it('filters by action prefix, actor, target and outcome', async () => {
    const { token, adminId } = await clinicWithAdmin(stack);
    const staff = await createAccount(stack, token, 'filter.me');
    const byPrefix = await all(token, '&action=account.*');
    expect(byPrefix.length).toBeGreaterThan(0);
    expect(byPrefix.every((e) => e.action.startsWith('account.'))).toBe(true);
    expect((await all(token, `&target=${staff.accountId}`)).map((e) => e.action)).toEqual(['account.create']);
    expect((await all(token, `&actor=${adminId}&outcome=success`)).every((e) => e.actor.id === adminId && e.outcome === 'success')).toBe(true);
    // Operators and the system by kind (their ids name a person or a job), in either case.
    const byOperators = await all(token, '&actor=OPERATOR');
    expect(byOperators.map((e) => e.action)).toContain('tenant.create');
    expect(byOperators.every((e) => e.actor.type === 'operator')).toBe(true);
    expect((await all(token, `&actor=${adminId.toUpperCase()}`)).every((e) => e.actor.id === adminId)).toBe(true);
    const future = await all(token, `&from=${encodeURIComponent(new Date(Date.now() + 3600_000).toISOString())}&to=${encodeURIComponent(new Date(Date.now() + 7200_000).toISOString())}`);
    expect(future).toEqual([]);
  });

  it('rejects malformed cursors and bad ranges with 400, never a 500', async () => {
    const { token } = await clinicWithAdmin(stack);
    const cases: Array<[string, string]> = [
      ['?cursor=%%%', 'invalid_cursor'],
      [`?cursor=${Buffer.from('s:abc').toString('base64url')}`, 'invalid_cursor'],
      ['?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', 'invalid_range'],
      ['?from=1900-01-01T00:00:00Z&to=2026-01-01T00:00:00Z', 'range_too_large'],
      ['?from=yesterday', 'validation_failed'],
      ['?actor=x%27%20or%201=1', 'validation_failed'],
      ['?limit=100000', 'validation_failed'],
      ['?outcome=maybe', 'validation_failed'],
    ];
    for (const [q, code] of cases) {
      const r = await call(stack.url, 'GET', `/v1/audit-logs${q}`, { token });
      expect([q, r.status, r.body.code]).toEqual([q, 400, code]);
    }
    expect((await call(stack.url, 'GET', '/v1/audit-logs.csv?from=2026-02-01&to=2026-01-01', { token })).body.code).toBe('invalid_range');
  });

  it('is open to admins and auditors only', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    const auditor = await createAccount(stack, token, 'auditor', ['auditor']);
    const doctor = await createAccount(stack, token, 'doctor', ['doctor']);
    const auditorToken = await activate(stack, clinic, 'auditor', auditor.initialPassword);
    const doctorToken = await activate(stack, clinic, 'doctor', doctor.initialPassword);
    expect((await call(stack.url, 'GET', '/v1/audit-logs', { token: auditorToken })).status).toBe(200);
    expect((await call(stack.url, 'GET', '/v1/audit-logs.csv', { token: auditorToken })).status).toBe(200);
    // Read-only: an auditor manages nothing.
    expect((await call(stack.url, 'GET', '/v1/accounts', { token: auditorToken })).status).toBe(403);
    for (const path of ['/v1/audit-logs', '/v1/audit-logs.csv', '/v1/audit-logs/verify']) {
      const r = await call(stack.url, 'GET', path, { token: doctorToken });
      expect([path, r.status, r.body.code]).toEqual([path, 403, 'forbidden']);
    }
  });

  it('logs refused changes as denied, with the problem\'s code', async () => {
    const c = await bookingClinic(stack);
    const admin = (await call(stack.url, 'GET', '/v1/me', { token: c.adminToken })).body.accountId;
    const lastAdmin = await call(stack.url, 'PATCH', `/v1/accounts/${admin}`, { token: c.adminToken, json: { roles: ['staff'] } });
    expect([lastAdmin.status, lastAdmin.body.code]).toEqual([409, 'last_admin']);
    const weak = await call(stack.url, 'POST', `/v1/accounts/${admin}/reset-password`, { token: c.adminToken, json: { initialPassword: 'weak' } });
    expect([weak.status, weak.body.code]).toEqual([400, 'password_policy']);
    const ownWeak = await call(stack.url, 'POST', '/v1/auth/password', { token: c.adminToken, json: { currentPassword: STRONG_PASSWORD, newPassword: 'weak' } });
    expect([ownWeak.status, ownWeak.body.code]).toEqual([400, 'password_policy']);
    const lockout = await call(stack.url, 'PUT', '/v1/settings/network-allowlist', { token: c.adminToken, json: { cidrs: ['192.0.2.0/24'] } });
    expect([lockout.status, lockout.body.code]).toEqual([409, 'would_lock_out_self']);
    const slot = { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slotOn(2, '11:00'), mode: 'in_person' };
    expect((await book(stack, c.staffToken, slot)).status).toBe(201);
    const taken = await book(stack, c.staffToken, slot);
    expect([taken.status, taken.body.code]).toEqual([409, 'slot_taken']);
    const past = await book(stack, c.staffToken, { ...slot, startsAt: slotOn(-1, '11:00') });
    expect([past.status, past.body.code]).toEqual([400, 'slot_in_past']);

    const denied = (await all(c.adminToken, '&outcome=denied')).map((e) => [e.action, e.details.code]);
    expect(denied).toEqual(
      expect.arrayContaining([
        ['account.roles_change', 'last_admin'],
        ['account.password_reset', 'password_policy'],
        ['password.change', 'password_policy'],
        ['settings.network_allowlist', 'would_lock_out_self'],
        ['consultation.book', 'slot_taken'],
        ['consultation.book', 'slot_in_past'],
      ]),
    );
    // The refused list was not saved.
    expect((await call(stack.url, 'GET', '/v1/settings/network-allowlist', { token: c.adminToken })).body.cidrs).toEqual([]);
  });

  it('pages newest first by number, across a power of ten, without losing or repeating an entry', async () => {
    const { token } = await clinicWithAdmin(stack);
    for (let i = 0; i < 12; i += 1) expect((await call(stack.url, 'POST', '/v1/groups', { token, json: { name: `paged-${i}` } })).status).toBe(201);
    const total = (await all(token)).length;
    expect(total).toBeGreaterThanOrEqual(12);
    const seqs: number[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await call(stack.url, 'GET', `/v1/audit-logs?limit=3${cursor ? `&cursor=${cursor}` : ''}`, { token });
      expect(page.status).toBe(200);
      seqs.push(...page.body.items.map((e: { seq: string }) => Number(e.seq)));
      cursor = page.body.nextCursor;
    } while (cursor);
    // (Sorted as text, the first page was 9, 8, 7 and everything from 10 up was never shown.)
    expect(seqs).toEqual(Array.from({ length: total }, (_, i) => total - i));
  });

  it('keeps one unbroken chain under concurrent writers in one clinic, and pages stably meanwhile', async () => {
    const { token } = await clinicWithAdmin(stack);
    const before = await all(token);
    const writers = Array.from({ length: 40 }, (_, i) =>
      call(stack.url, 'POST', '/v1/groups', { token, json: { name: `group-${i}` } }),
    );
    // Page through while the writers run: no entry may appear twice.
    const seen = await all(token);
    expect(new Set(seen.map((e) => e.seq)).size).toBe(seen.length);
    const replies = await Promise.all(writers);
    expect(replies.every((r) => r.status === 201)).toBe(true);
    const after = await all(token);
    const creates = after.filter((e) => e.action === 'group.create');
    expect(creates).toHaveLength(40);
    const seqs = after.map((e) => Number(e.seq)).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(after.length).toBe(before.length + 40);
    const verify = await call(stack.url, 'GET', '/v1/audit-logs/verify', { token });
    expect(verify.body).toMatchObject({ ok: true, checked: after.length, firstBroken: null, headSeq: after.length });
  });
});

describe('the chain check', () => {
  it('takes the clinic\'s long-read slot: a second check meanwhile is 429 with Retry-After; odd ranges are 400', async () => {
    const { token } = await clinicWithAdmin(stack);
    const owner = await stack.database.ownerDb.transaction();
    let first: Promise<{ status: number; body: any }> | undefined;
    try {
      // The first check waits on the chain heads (held here), holding its slot.
      await owner.raw('lock table audit_chain_heads in access exclusive mode');
      first = call(stack.url, 'GET', '/v1/audit-logs/verify', { token });
      await eventually('the first check waits', async () => {
        const { rows } = await stack.database.ownerDb.raw(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`);
        return rows[0].n > 0;
      });
      const second = await call(stack.url, 'GET', '/v1/audit-logs/verify', { token });
      expect([second.status, second.body.code, second.headers.get('retry-after')]).toEqual([429, 'rate_limited', '10']);
      const csv = await call(stack.url, 'GET', '/v1/audit-logs.csv', { token });
      expect([csv.status, csv.body.code]).toEqual([429, 'rate_limited']);
    } finally {
      await owner.rollback();
    }
    expect((await first!).body.ok).toBe(true);
    expect((await call(stack.url, 'GET', '/v1/audit-logs/verify', { token })).status).toBe(200);
    for (const [q, code] of [['fromSeq=5&toSeq=3', 'invalid_range'], ['fromSeq=0x10', 'validation_failed'], ['toSeq=1e3', 'validation_failed'], ['fromSeq=0', 'validation_failed'], ['fromSeq=%2016', 'validation_failed']]) {
      const r = await call(stack.url, 'GET', `/v1/audit-logs/verify?${q}`, { token });
      expect([q, r.status, r.body.code]).toEqual([q, 400, code]);
    }
  });
});

describe('tamper evidence', () => {
  it('finds the first entry a superuser edited, deleted or truncated', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    for (let i = 0; i < 5; i += 1) await call(stack.url, 'POST', '/v1/groups', { token, json: { name: `t-${i}` } });
    const ok = await call(stack.url, 'GET', '/v1/audit-logs/verify', { token });
    expect(ok.body.ok).toBe(true);
    const total = ok.body.checked;
    const owner = stack.database.ownerDb;

    // Edit an entry's content in place: its own hash no longer matches.
    await owner.raw(`alter table audit_events disable trigger audit_events_chain`);
    try {
      await owner('audit_events').where({ tenant_id: clinic.id, seq: 4 }).update({ outcome: 'failed' });
      const edited = await call(stack.url, 'GET', '/v1/audit-logs/verify', { token });
      expect(edited.body).toMatchObject({ ok: false, firstBroken: { seq: 4, reason: 'hash_mismatch' } });
      // A range that stops before the edit still verifies.
      expect((await call(stack.url, 'GET', '/v1/audit-logs/verify?toSeq=3', { token })).body.ok).toBe(true);

      // Rewriting the hash too breaks the next link instead.
      await owner.raw(`update audit_events e set hash = sha256(prev_hash || convert_to(audit_canonical(e), 'UTF8')) where tenant_id = ? and seq = 4`, [clinic.id]);
      const rehashed = await call(stack.url, 'GET', '/v1/audit-logs/verify', { token });
      expect(rehashed.body.firstBroken).toEqual({ seq: 5, reason: 'prev_hash_mismatch' });

      // The operators' command line tool reports the same, with exit code 1.
      const cli = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', '..', 'scripts', 'audit-verify.ts'), clinic.slug], {
        env: { ...process.env, DATABASE_URL: stack.database.url },
        encoding: 'utf8',
      });
      expect(cli.status).toBe(1);
      expect(JSON.parse(cli.stdout)).toMatchObject({ ok: false, firstBroken: { seq: 5, reason: 'prev_hash_mismatch' } });

      // Deleting an entry leaves a gap.
      await owner('audit_events').where({ tenant_id: clinic.id, seq: 2 }).delete();
      expect((await withTenant(stack.database.db, clinic.id, (trx) => verifyAuditChain(trx))).firstBroken).toEqual({ seq: 2, reason: 'missing_entries' });

      // Cutting off the newest entry is caught against the recorded head.
      await owner('audit_events').where({ tenant_id: clinic.id, seq: total }).delete();
      expect((await withTenant(stack.database.db, clinic.id, (trx) => verifyAuditChain(trx, { fromSeq: 6 }))).firstBroken).toEqual({ seq: total, reason: 'missing_entries' });
    } finally {
      await owner.raw(`alter table audit_events enable trigger audit_events_chain`);
    }
  });
});

describe('CSV export', () => {
  it('streams RFC 4180 CSV with a BOM, neutralises formulas, and logs the export', async () => {
    const { token } = await clinicWithAdmin(stack);
    // Attacker-controlled text that reaches the log: a user agent built to run as a formula.
    await call(stack.url, 'POST', '/v1/groups', { token, json: { name: 'g' }, headers: { 'user-agent': '=HYPERLINK("http://evil.example","x")' } });
    await call(stack.url, 'POST', '/v1/groups', { token, json: { name: 'h' }, headers: { 'user-agent': '@SUM(1+1), "quoted"' } });
    const dayBefore = japanDateOf(new Date());
    const res = await fetch(`${stack.url}/v1/audit-logs.csv`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    // Named for the day in Japan (from 15:00 UTC, the UTC date is the day before); either side of its midnight.
    expect([`audit-log-${dayBefore}.csv`, `audit-log-${japanDateOf(new Date())}.csv`]).toContain(/filename="([^"]+)"/.exec(res.headers.get('content-disposition')!)![1]);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = bytes.toString('utf8').slice(1);
    const lines = text.split('\r\n');
    expect(lines[0]).toBe('seq,occurred_at,actor_type,actor_id,actor_roles,action,target_type,target_id,outcome,client_ip,user_agent,request_id,details,hash');
    expect(lines.at(-1)).toBe('');
    const rows = lines.slice(1, -1);
    expect(rows.length).toBeGreaterThan(3);
    // Oldest first, ISO 8601 UTC.
    expect(rows[0]).toMatch(/^1,\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z,/);
    // Cells are JSON for structures; quotes doubled; nothing starts with a formula character.
    expect(text).toContain('"[""admin""]"');
    const cells = parseCsv(text);
    for (const row of cells) for (const cell of row) expect(cell).not.toMatch(/^[=+\-@]/);
    const agents = cells.map((r) => r[10]);
    expect(agents).toContain(`'=HYPERLINK("http://evil.example","x")`);
    expect(agents).toContain(`'@SUM(1+1), "quoted"`);
    expect(cells.every((r) => r.length === 14)).toBe(true);
    const list = await call(stack.url, 'GET', '/v1/audit-logs?action=audit_log.export', { token });
    expect(list.body.items).toHaveLength(1);
  });
});

/** A strict RFC 4180 parser, to check that what we wrote reads back as cells. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else cell += c;
      i += 1;
      continue;
    }
    if (c === '"' && cell === '') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i += 1;
    } else cell += c;
    i += 1;
  }
  return rows;
}
