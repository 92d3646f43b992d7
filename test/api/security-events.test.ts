import { randomUUID } from 'node:crypto';
import { activate, clinicWithAdmin, createAccount, login, STRONG_PASSWORD } from '../harness/clinic';
import { bookingClinic, furnishClinic } from '../harness/consultations';
import { hash32, operationsOf, prng, rowIdFor, sample, type ClinicRows } from '../harness/fuzz';
import { call, type Reply } from '../harness/http';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * Denied attempts are recorded, aggregated: one row per (clinic or none, kind, source network,
 * minute) with a count, upserted in PostgreSQL so several API processes share it. Probing another
 * clinic's ids looks to the caller exactly like asking for ids that do not exist, and is recorded
 * for the prober's clinic; wrong operator tokens and logins to unknown clinics are recorded about
 * no clinic, for operators. Recording never turns a refusal into a 5xx.
 */
let stack: TestStack;
beforeAll(async () => {
  // The documentation networks stand for operators' sources here: the operator listener must let them in.
  stack = await startTestStack({ TRUSTED_PROXIES: '127.0.0.1/32,::1/128', LOGIN_FAILURES_PER_IP: '1000', OPERATOR_ALLOWED_CIDRS: '0.0.0.0/0,::/0' });
});
afterAll(async () => {
  await stack?.stop();
});

interface SecurityEvent {
  minute: string;
  kind: string;
  clinicId: string | null;
  clientNet: string;
  attempts: number;
  accountIds: string[];
  routes: string[];
}

const from = (ip: string) => ({ 'x-forwarded-for': ip });
const sum = (events: SecurityEvent[]) => events.reduce((n, e) => n + e.attempts, 0);
const owner = () => stack.database.ownerDb;

/** Every page of a list, following nextCursor. */
async function all(path: string, token: string): Promise<SecurityEvent[]> {
  const items: SecurityEvent[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page: Reply = await call(path.startsWith('/v1/operator/') ? stack.operatorUrl : stack.url, 'GET', `${path}${cursor ? `${sep}cursor=${cursor}` : ''}`, { token, headers: from('192.0.2.250') });
    if (page.status !== 200) throw new Error(`${path}: ${page.status} ${page.text}`);
    items.push(...page.body.items);
    cursor = page.body.nextCursor;
  } while (cursor);
  return items;
}

const fromNet = (events: SecurityEvent[], clientNet: string, kind?: string) => events.filter((e) => e.clientNet === clientNet && (!kind || e.kind === kind));

describe('probing ids of another clinic', () => {
  it('answers exactly as for ids that do not exist, and is recorded for the prober\'s clinic per source network and minute', async () => {
    const a = await bookingClinic(stack);
    const b = await bookingClinic(stack);
    const bRows = await furnishClinic(stack, b, 'B');
    const bAccounts = (await call(stack.url, 'GET', '/v1/accounts', { token: b.adminToken })).body.items as Array<{ id: string; loginId: string }>;
    const foreign: ClinicRows = {
      tenants: b.clinic.id, accounts: bAccounts.find((x) => x.loginId === 'desk')!.id, groups: bRows.groupId, processes: bRows.processId,
      files: bRows.fileId, patients: b.patientId, practitioners: b.practitionerId, consultations: bRows.consultationId,
    };
    const foreignIds = Object.values(foreign) as string[];
    const accountOf = async (token: string) => (await call(stack.url, 'GET', '/v1/me', { token })).body.accountId as string;
    const prober = [await accountOf(a.adminToken), await accountOf(a.doctorToken)];

    const doc = await call(stack.url, 'GET', '/openapi.json');
    const operations = operationsOf(doc.body).filter((op) => op.pathParams.length > 0 && !op.path.startsWith('/v1/operator/'));
    expect(operations.length).toBeGreaterThan(20);
    // Two addresses of one IPv6 /64: one source.
    const sources = ['2001:db8:a:b::1', '2001:db8:a:b:ffff::2'];
    const expected = { not_found: 0, forbidden: 0 };
    const templates = new Set<string>();
    let notFound = 0;
    // As the admin, and as the doctor for what only doctors may do (starting and finishing a consultation).
    const askers = [{ who: 'admin', token: a.adminToken }, { who: 'doctor', token: a.doctorToken }];
    for (const [i, op] of operations.entries()) {
      for (const { who, token } of askers) {
        const rng = prng(hash32(op.operationId));
        const body = op.body ? sample(op.body, rng) : undefined;
        const query = op.query.filter((q) => q.required).map((q) => `${q.name}=${encodeURIComponent(String(sample(q.schema, rng, q.name)))}`);
        const ask = async (ids: Record<string, string>) => {
          const path = op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => ids[name]!);
          const reply = await call(stack.url, op.method, query.length ? `${path}?${query.join('&')}` : path, {
            token,
            json: body,
            headers: { ...from(sources[i % 2]!), 'idempotency-key': `probe-${randomUUID()}` },
          });
          // What the caller can tell apart: everything but the echo of its own path and the request id.
          let text = reply.text;
          for (const id of Object.values(ids)) text = text.split(id).join('<id>');
          const { instance: _instance, requestId: _requestId, ...shown } = (reply.body === undefined ? { text } : JSON.parse(text)) as Record<string, unknown>;
          return { status: reply.status, contentType: reply.headers.get('content-type'), allow: reply.headers.get('allow'), shown, code: reply.body?.code as string | undefined };
        };
        const theirs = await ask(Object.fromEntries(op.pathParams.map((p) => [p, rowIdFor(op.path, p, foreign) ?? randomUUID()])));
        const nobodys = await ask(Object.fromEntries(op.pathParams.map((p) => [p, randomUUID()])));
        const asked = [who, op.method, op.path];
        expect([...asked, theirs]).toEqual([...asked, nobodys]);
        expect([...asked, theirs.status < 500]).toEqual([...asked, true]);
        if (who === 'admin' && op.method === 'GET') expect([...asked, theirs.status, theirs.code]).toEqual([...asked, 404, 'not_found']);
        // Beyond the echo of the path it asked for, nothing of clinic B comes back.
        for (const id of foreignIds) expect(JSON.stringify(theirs)).not.toContain(id);
        for (const answer of [theirs, nobodys]) {
          if (answer.status === 404) expected.not_found += 1;
          if (answer.status === 403 && answer.code !== 'reauthentication_required') expected.forbidden += 1;
          if (answer.status === 403 || answer.status === 404) templates.add(`${op.method} ${op.path.replace(/\{([^}]+)\}/g, ':$1')}`);
        }
        if (theirs.status === 404) notFound += 1;
        if (op.path.endsWith('/start') || op.path.endsWith('/finish')) expect([...asked, theirs.status]).toEqual([...asked, who === 'doctor' ? 404 : 403]);
      }
    }
    // Most operations got as far as looking the row up.
    expect(notFound).toBeGreaterThan(operations.length);
    // Nothing of clinic B changed.
    expect((await call(stack.url, 'GET', `/v1/patients/${b.patientId}`, { token: b.staffToken })).status).toBe(200);
    expect((await call(stack.url, 'GET', `/v1/processes/${bRows.processId}/files/${bRows.fileId}`, { token: b.adminToken })).text).toBe('hello');

    // Clinic A's admins see it: per kind, one row per minute (the loop may straddle minutes) from the /64.
    const seen = fromNet(await all('/v1/security-events', a.adminToken), '2001:db8:a:b::/64');
    for (const kind of ['not_found', 'forbidden'] as const) {
      const rows = fromNet(seen, '2001:db8:a:b::/64', kind);
      expect([kind, sum(rows)]).toEqual([kind, expected[kind]]);
      expect(new Set(rows.map((r) => r.minute)).size).toBe(rows.length);
    }
    expect(new Set(seen.flatMap((r) => r.accountIds))).toEqual(new Set(prober));
    for (const row of seen) {
      expect(row).toMatchObject({ clinicId: a.clinic.id, minute: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00Z$/) });
      // Route templates, never the ids that were asked for.
      expect(row.routes.filter((r) => !templates.has(r))).toEqual([]);
    }
    for (const id of foreignIds) expect(JSON.stringify(seen)).not.toContain(id);
    // Clinic B, whose ids were probed, sees nothing of A's attempts (they are A's users' doing).
    expect(fromNet(await all('/v1/security-events', b.adminToken), '2001:db8:a:b::/64')).toEqual([]);
  });
});

describe('what is recorded about no clinic, for operators', () => {
  it('counts wrong operator tokens exactly, however many arrive at once, in one row per source and minute', async () => {
    const { token } = await clinicWithAdmin(stack);
    const wrong = [undefined, `Bearer ${'x'.repeat(64)}`, `Basic ${stack.operatorToken}`, `Bearer ${stack.operatorToken}x`, `Bearer ${token}`];
    const replies = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        call(stack.operatorUrl, i % 2 ? 'GET' : 'PATCH', i % 2 ? '/v1/operator/tenants' : `/v1/operator/tenants/${randomUUID()}`, {
          headers: { ...from('198.51.100.7'), ...(wrong[i % wrong.length] ? { authorization: wrong[i % wrong.length]! } : {}) },
          json: i % 2 ? undefined : { status: 'suspended' },
        }),
      ),
    );
    expect(replies.map((r) => [r.status, r.body.code])).toEqual(Array(60).fill([401, 'unauthorized']));

    const events = fromNet(await all('/v1/operator/security-events?kind=operator_token&clinic=none', stack.operatorToken), '198.51.100.7');
    expect(sum(events)).toBe(60);
    expect(events.length).toBeLessThanOrEqual(2);
    for (const e of events) {
      expect(e).toMatchObject({ kind: 'operator_token', clinicId: null, accountIds: [] });
      expect(e.routes.every((r) => ['GET /v1/operator/tenants', 'PATCH /v1/operator/tenants/:id'].includes(r))).toBe(true);
    }
    // The table holds exactly those rows for the source: bounded by minutes, not by attempts.
    expect((await owner()('security_events').where({ client_net: '198.51.100.7' })).length).toBe(events.length);
    // A clinic's admin sees none of it, and cannot use the operator route (which is itself a wrong token).
    expect(fromNet(await all('/v1/security-events', token), '198.51.100.7')).toEqual([]);
    expect((await call(stack.operatorUrl, 'GET', '/v1/operator/security-events', { token, headers: from('198.51.100.8') })).status).toBe(401);
    expect(sum(fromNet(await all('/v1/operator/security-events?kind=operator_token', stack.operatorToken), '198.51.100.8'))).toBe(1);
  });

  it('records logins to clinics that do not exist per IPv6 /64', async () => {
    const nowhere = { id: '', slug: `no-such-clinic-${randomUUID().slice(0, 8)}` };
    for (const ip of ['2001:db8:77:1::5', '2001:db8:77:1:abcd::9', '2001:db8:77:1::5']) {
      expect((await login(stack, nowhere, 'admin', STRONG_PASSWORD, from(ip))).status).toBe(401);
    }
    const events = fromNet(await all('/v1/operator/security-events?kind=unknown_clinic_login', stack.operatorToken), '2001:db8:77:1::/64');
    expect(sum(events)).toBe(3);
    expect(events.every((e) => e.clinicId === null)).toBe(true);
  });

  it('shows operators every clinic\'s rows, narrowed by clinic', async () => {
    const x = await clinicWithAdmin(stack);
    expect((await call(stack.url, 'GET', `/v1/patients/${randomUUID()}`, { token: x.token, headers: from('192.0.2.61') })).status).toBe(404);
    expect((await call(stack.operatorUrl, 'GET', '/v1/operator/tenants', { token: 'wrong', headers: from('192.0.2.61') })).status).toBe(401);
    const everything = fromNet(await all('/v1/operator/security-events', stack.operatorToken), '192.0.2.61');
    expect(everything.map((e) => [e.kind, e.clinicId]).sort()).toEqual([['not_found', x.clinic.id], ['operator_token', null]]);
    expect(fromNet(await all(`/v1/operator/security-events?clinic=${x.clinic.id}`, stack.operatorToken), '192.0.2.61').map((e) => e.kind)).toEqual(['not_found']);
    expect(fromNet(await all('/v1/operator/security-events?clinic=none', stack.operatorToken), '192.0.2.61').map((e) => e.kind)).toEqual(['operator_token']);
  });
});

describe('requests from outside a clinic\'s allowlist', () => {
  it('make one row and one operation-log entry per source and minute across two API processes', async () => {
    const { clinic, token, adminId } = await clinicWithAdmin(stack);
    await owner()('tenant_settings').insert({ tenant_id: clinic.id, network_allowlist: ['203.0.113.0/24'] }).onConflict('tenant_id').merge(['network_allowlist']);
    const other = await stack.startExtraApi({});
    const apis = [stack.url, other.url];
    for (let i = 0; i < 10; i += 1) {
      const refused = await call(apis[i % 2]!, 'GET', '/v1/me', { token, headers: from('192.0.2.50') });
      expect([refused.status, refused.body.code]).toEqual([403, 'ip_not_allowed']);
    }
    for (let i = 0; i < 4; i += 1) {
      const refused = await call(apis[i % 2]!, 'POST', '/v1/auth/login', { json: { tenant: clinic.slug, loginId: 'admin', password: STRONG_PASSWORD }, headers: from('192.0.2.50') });
      expect([refused.status, refused.body.code]).toEqual([403, 'ip_not_allowed']);
    }
    const rows = await owner()('security_events').where({ tenant_id: clinic.id, kind: 'ip_denied', client_net: '192.0.2.50' });
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect(rows.length).toBeLessThanOrEqual(2); // the minute may turn during the loops
    expect(rows.reduce((n: number, r: { attempts: number }) => n + r.attempts, 0)).toBe(14);
    expect(new Set(rows.flatMap((r: { accountIds: string[] }) => r.accountIds))).toEqual(new Set([adminId]));
    // The operation log: the first attempt of each minute only, whichever process saw it.
    const entries = await owner()('audit_events')
      .where({ tenant_id: clinic.id, outcome: 'denied' })
      .whereIn('action', ['request.ip_denied', 'login']);
    expect(entries).toHaveLength(rows.length);
    // The clinic's admin reads them from inside the list.
    const seen = await call(stack.url, 'GET', '/v1/security-events?kind=ip_denied', { token, headers: from('203.0.113.7') });
    expect(sum(fromNet(seen.body.items, '192.0.2.50'))).toBe(14);
  });
});

describe('the screen', () => {
  it('pages newest first for admins and auditors only, and refuses malformed cursors', async () => {
    const c = await clinicWithAdmin(stack);
    const auditor = await createAccount(stack, c.token, 'auditor1', ['auditor']);
    const auditorToken = await activate(stack, c.clinic, 'auditor1', auditor.initialPassword);
    const staff = await createAccount(stack, c.token, 'desk1', ['staff']);
    const staffToken = await activate(stack, c.clinic, 'desk1', staff.initialPassword);
    for (let i = 1; i <= 3; i += 1) await call(stack.url, 'GET', `/v1/groups/${randomUUID()}`, { token: c.token, headers: from(`192.0.2.${110 + i}`) });

    const first = await call(stack.url, 'GET', '/v1/security-events?limit=2', { token: auditorToken });
    expect([first.status, first.body.items.length]).toEqual([200, 2]);
    const second = await call(stack.url, 'GET', `/v1/security-events?limit=2&cursor=${first.body.nextCursor}`, { token: auditorToken });
    expect([...first.body.items, ...second.body.items].map((e: SecurityEvent) => e.clientNet).sort()).toEqual(['192.0.2.111', '192.0.2.112', '192.0.2.113']);
    expect(second.body.nextCursor).toBeNull();
    expect((await call(stack.url, 'GET', '/v1/security-events?cursor=bogus', { token: c.token })).body.code).toBe('invalid_cursor');
    expect((await call(stack.url, 'GET', '/v1/security-events?kind=everything', { token: c.token })).status).toBe(400);

    // Staff may not read it; the refusal is itself a denied attempt.
    const refused = await call(stack.url, 'GET', '/v1/security-events', { token: staffToken, headers: from('192.0.2.120') });
    expect([refused.status, refused.body.code]).toEqual([403, 'forbidden']);
    const forbidden = fromNet(await all('/v1/security-events?kind=forbidden', c.token), '192.0.2.120');
    expect(forbidden).toEqual([expect.objectContaining({ attempts: 1, accountIds: [staff.accountId], routes: ['GET /v1/security-events'] })]);

    for (const [url, path] of [[stack.url, '/v1/security-events'], [stack.operatorUrl, '/v1/operator/security-events']] as const) {
      const doc = (await call(url, 'GET', '/openapi.json')).body;
      expect(doc.paths[path].get.responses['200'].content['application/json'].schema).toBeDefined();
    }
  });
});

describe('when the record cannot be written', () => {
  it('the refusal is still the caller\'s 4xx', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    await owner().raw('revoke insert, update on security_events from forclinic_app');
    try {
      expect((await call(stack.url, 'GET', `/v1/patients/${randomUUID()}`, { token, headers: from('192.0.2.130') })).status).toBe(404);
      expect((await call(stack.operatorUrl, 'GET', '/v1/operator/tenants', { token: 'wrong', headers: from('192.0.2.130') })).status).toBe(401);
      expect((await login(stack, { id: '', slug: 'nowhere-at-all' }, 'admin', 'x', from('192.0.2.130'))).status).toBe(401);
      await owner()('tenant_settings').insert({ tenant_id: clinic.id, network_allowlist: ['203.0.113.0/24'] }).onConflict('tenant_id').merge(['network_allowlist']);
      expect((await call(stack.url, 'GET', '/v1/me', { token, headers: from('192.0.2.130') })).status).toBe(403);
    } finally {
      await owner().raw('grant insert, update on security_events to forclinic_app');
    }
    expect(await owner()('security_events').where({ client_net: '192.0.2.130' })).toEqual([]);
    // And once it can be written again, it is.
    expect((await call(stack.url, 'GET', '/v1/me', { token, headers: from('192.0.2.130') })).status).toBe(403);
    expect((await owner()('security_events').where({ client_net: '192.0.2.130' })).map((r: { kind: string }) => r.kind)).toEqual(['ip_denied']);
  });
});
