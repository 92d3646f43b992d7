import { randomUUID } from 'node:crypto';
import { verifyPlatformChain } from '../../db/platform-log';
import { withPlatform } from '../../db/platform-scope';
import { NO_CLINIC } from '../../domain/ids';
import { openApiRoutes } from '../../scripts/openapi';
import { activate, createAdmin, createClinic } from '../harness/clinic';
import { call } from '../harness/http';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * The operator plane: operator routes answer only on their own listener (OPERATOR_PORT), each
 * listener documents only its own routes, the operator listener refuses sources outside
 * OPERATOR_ALLOWED_CIDRS, every authenticated operator request is one platform-log entry, and
 * an operator's action on a clinic shows up, by name, in that clinic's own operation log.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

const concrete = (path: string) => path.replace(/:[A-Za-z0-9_]+/g, () => randomUUID());

describe('two listeners', () => {
  it('the public listener answers 404 for every operator route, even with the operator token', async () => {
    const operatorRoutes = openApiRoutes('operator').filter((r) => r.security === 'operator');
    expect(operatorRoutes.length).toBeGreaterThan(15);
    for (const r of operatorRoutes) {
      const reply = await call(stack.url, r.method.toUpperCase(), concrete(r.path), { token: stack.operatorToken, json: r.method === 'get' ? undefined : {} });
      expect([r.method, r.path, reply.status, reply.body?.code]).toEqual([r.method, r.path, 404, 'not_found']);
    }
  });

  it('the operator listener answers 404 for every clinic route', async () => {
    // The passkey reference page (outside production) is served on both, where each kind of user signs in.
    const clinicRoutes = openApiRoutes('public').filter(
      (r) => r.security === 'session' || (r.security === 'none' && !r.tags.includes('health') && r.path !== '/openapi.json' && !r.path.startsWith('/passkeys')),
    );
    expect(clinicRoutes.length).toBeGreaterThan(40);
    for (const r of clinicRoutes) {
      const reply = await call(stack.operatorUrl, r.method.toUpperCase(), concrete(r.path), { json: r.method === 'get' ? undefined : {} });
      expect([r.method, r.path, reply.status]).toEqual([r.method, r.path, 404]);
    }
  });

  it('each /openapi.json documents only its own listener\'s routes; health answers on both', async () => {
    const publicDoc = (await call(stack.url, 'GET', '/openapi.json')).body;
    const operatorDoc = (await call(stack.operatorUrl, 'GET', '/openapi.json')).body;
    const publicPaths = Object.keys(publicDoc.paths);
    const operatorPaths = Object.keys(operatorDoc.paths);
    expect(publicPaths.filter((p) => p.startsWith('/v1/operator/'))).toEqual([]);
    expect(operatorPaths.filter((p) => !p.startsWith('/v1/operator/')).sort()).toEqual(['/healthz', '/openapi.json', '/passkeys', '/passkeys/app.js', '/passkeys/simplewebauthn-browser.js', '/readyz']);
    expect(Object.keys(operatorDoc.components.securitySchemes)).toEqual(['operatorToken']);
    expect(Object.keys(publicDoc.components.securitySchemes)).toEqual(['clinicSession']);
    for (const url of [stack.url, stack.operatorUrl]) expect((await call(url, 'GET', '/readyz')).status).toBe(200);
  });
});

describe('OPERATOR_ALLOWED_CIDRS', () => {
  it('refuses a source outside the list on every path with 403 source_not_allowed, and records it per source and minute', async () => {
    const narrow = await stack.startExtraApi({ OPERATOR_ALLOWED_CIDRS: '192.0.2.0/24' });
    for (const path of ['/v1/operator/tenants', '/healthz', '/openapi.json', '/v1/nothing']) {
      const reply = await call(narrow.operatorUrl, 'GET', path, { token: stack.operatorToken });
      expect([path, reply.status, reply.body.code]).toEqual([path, 403, 'source_not_allowed']);
    }
    // The public listener of the same process is not affected.
    expect((await call(narrow.url, 'GET', '/healthz')).status).toBe(200);
    const events = await stack.database.ownerDb('security_events').where({ kind: 'ip_denied', tenant_id: NO_CLINIC });
    expect(events.reduce((n: number, e: { attempts: number }) => n + Number(e.attempts), 0)).toBeGreaterThanOrEqual(4);
    // Refused requests never reached authentication: nothing of theirs is in the platform log.
    expect(await stack.database.ownerDb('platform_audit_events').where('target_id', 'like', '%/v1/nothing%')).toEqual([]);
  });

  it('refuses a list that would let every source in by being empty, and malformed entries, at start-up', async () => {
    await expect(stack.startExtraApi({ OPERATOR_ALLOWED_CIDRS: '10.0.0.1/8' })).rejects.toThrow(/OPERATOR_ALLOWED_CIDRS/);
    await expect(stack.startExtraApi({ OPERATOR_ALLOWED_CIDRS: '10.0.0.0/8,' })).rejects.toThrow(/OPERATOR_ALLOWED_CIDRS/);
    await expect(stack.startExtraApi({ OPERATOR_PORT: '4321', PORT: '4321' })).rejects.toThrow(/OPERATOR_PORT/);
  });
});

describe('the platform operation log', () => {
  it('has one entry per authenticated operator request, naming the operator; unauthenticated ones are counted, not logged', async () => {
    const reply = await call(stack.operatorUrl, 'GET', '/v1/operator/tenants?limit=1', { token: stack.operatorToken, headers: { 'X-Request-Id': 'op-list-1' } });
    expect(reply.status).toBe(200);
    const missingId = randomUUID();
    // (In upper case: logged in the one spelling of ids.)
    const missing = await call(stack.operatorUrl, 'GET', `/v1/operator/tenants/${missingId.toUpperCase()}`, { token: stack.operatorToken, headers: { 'X-Request-Id': 'op-missing-1' } });
    expect(missing.status).toBe(404);
    expect((await call(stack.operatorUrl, 'GET', '/v1/operator/tenants', { token: 'wrong', headers: { 'X-Request-Id': 'op-wrong-1' } })).status).toBe(401);

    // (Each break-glass use also has an `operator.break_glass` entry of its own: README, Operators.)
    const entries = await stack.database.ownerDb('platform_audit_events').whereIn('request_id', ['op-list-1', 'op-missing-1', 'op-wrong-1']).where({ action: 'operator.request' }).orderBy('seq');
    expect(entries.map((e) => [e.requestId, e.action, e.outcome, e.actorType, e.actorId, e.actorName, e.targetId, e.details.status, e.details.via])).toEqual([
      ['op-list-1', 'operator.request', 'success', 'operator', 'break-glass', 'break-glass', 'GET /v1/operator/tenants', 200, 'break-glass'],
      ['op-missing-1', 'operator.request', 'failed', 'operator', 'break-glass', 'break-glass', 'GET /v1/operator/tenants/:id', 404, 'break-glass'],
    ]);
    expect(entries[1]!.details.params).toEqual({ id: missingId });
  });

  it('writes concurrent requests in group commits: every one has its entry before its answer, and the chain verifies', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `op-burst-${i}`);
    const replies = await Promise.all(ids.map((id) => call(stack.operatorUrl, 'GET', '/v1/operator/tenants?limit=1', { token: stack.operatorToken, headers: { 'X-Request-Id': id } })));
    expect(replies.map((r) => r.status)).toEqual(ids.map(() => 200));
    const entries = await stack.database.ownerDb('platform_audit_events').whereIn('request_id', ids).where({ action: 'operator.request' });
    expect(entries.map((e) => e.requestId).sort()).toEqual([...ids].sort());
    expect(await withPlatform(stack.database.db, (trx) => verifyPlatformChain(trx))).toMatchObject({ ok: true, firstBroken: null });
  });

  it('is read over the operator API by security and platform admins: newest first, each entry naming who acted, filtered and paged, its chain checked', async () => {
    const token = stack.operatorToken;
    const ids = ['op-read-1', 'op-read-2', 'op-read-3'];
    for (const id of ids) expect((await call(stack.operatorUrl, 'GET', '/v1/operator/tenants?limit=1', { token, headers: { 'X-Request-Id': id } })).status).toBe(200);
    const page = await call(stack.operatorUrl, 'GET', '/v1/operator/platform-log?action=operator.request&limit=2', { token });
    expect(page.status).toBe(200);
    expect(page.body.items.map((e: { requestId: string }) => e.requestId)).toEqual(['op-read-3', 'op-read-2']);
    expect(page.body.items[0]).toMatchObject({ action: 'operator.request', outcome: 'success', actor: { type: 'operator', id: 'break-glass', name: 'break-glass' }, target: { id: 'GET /v1/operator/tenants' } });
    const next = await call(stack.operatorUrl, 'GET', `/v1/operator/platform-log?action=operator.request&limit=2&cursor=${page.body.nextCursor}`, { token });
    expect(next.body.items[0].requestId).toBe('op-read-1');
    expect(Number(next.body.items[0].seq)).toBeLessThan(Number(page.body.items[1].seq));
    // A prefix, and an outcome.
    const breakGlass = await call(stack.operatorUrl, 'GET', '/v1/operator/platform-log?action=operator.break*&limit=5', { token });
    expect(breakGlass.body.items.length).toBeGreaterThan(0);
    expect(breakGlass.body.items.every((e: { action: string }) => e.action.startsWith('operator.break'))).toBe(true);
    expect((await call(stack.operatorUrl, 'GET', '/v1/operator/platform-log?outcome=denied&action=operator.request', { token })).body.items).toEqual([]);
    const verified = await call(stack.operatorUrl, 'GET', '/v1/operator/platform-log/verify', { token });
    expect(verified.body).toMatchObject({ ok: true, firstBroken: null });
    expect(verified.body.checked).toBeGreaterThan(3);
    expect((await call(stack.operatorUrl, 'GET', '/v1/operator/platform-log/verify?fromSeq=9&toSeq=3', { token })).body.code).toBe('invalid_range');
    expect((await call(stack.operatorUrl, 'GET', '/v1/operator/platform-log?cursor=bogus', { token })).body.code).toBe('invalid_cursor');

    // Support and viewers do their work without it.
    const key = (await call(stack.operatorUrl, 'POST', '/v1/operator/api-keys', { token, json: { name: 'support-bot', roles: ['support', 'viewer'], expiresInSeconds: 3_600 } })).body.key as string;
    const refused = await call(stack.operatorUrl, 'GET', '/v1/operator/platform-log', { token: key });
    expect([refused.status, refused.body.code]).toEqual([403, 'operator_role_required']);
  });

  it('fails closed: when the entry cannot be written, the answer is withheld as 503 operation_log_unavailable', async () => {
    const owner = stack.database.ownerDb;
    await owner.raw('revoke insert on platform_audit_events from forclinic_app');
    try {
      const reply = await call(stack.operatorUrl, 'GET', '/v1/operator/tenants', { token: stack.operatorToken });
      expect([reply.status, reply.body.code, reply.body.items]).toEqual([503, 'operation_log_unavailable', undefined]);
      expect(reply.headers.get('retry-after')).toMatch(/^\d+$/);
    } finally {
      await owner.raw('grant insert on platform_audit_events to forclinic_app');
    }
    expect((await call(stack.operatorUrl, 'GET', '/v1/operator/tenants', { token: stack.operatorToken })).status).toBe(200);
  });
});

describe('operator actions in the clinic\'s own log', () => {
  it('an operator creating a clinic admin shows up, by name, in that clinic\'s operation log and its CSV export', async () => {
    const clinic = await createClinic(stack, 'traced');
    const admin = await createAdmin(stack, clinic);
    const token = await activate(stack, clinic, 'admin', admin.initialPassword);

    const log = await call(stack.url, 'GET', '/v1/audit-logs', { token });
    expect(log.status).toBe(200);
    type Entry = { action: string; actor: { type: string; id: string; name: string | null }; target: { id: string } };
    const byOperator = log.body.items.map((e: Entry) => [e.action, e.actor.type, e.actor.id, e.actor.name]);
    expect(byOperator).toEqual(expect.arrayContaining([
      ['tenant.create', 'operator', 'break-glass', 'break-glass'],
      ['account.create', 'operator', 'break-glass', 'break-glass'],
    ]));
    expect(log.body.items.find((e: Entry) => e.action === 'account.create').target.id).toBe(admin.accountId);
    // The admin's own entries name no operator.
    expect(log.body.items.find((e: Entry) => e.action === 'password.change').actor).toMatchObject({ type: 'account', name: null });

    const res = await fetch(`${stack.url}/v1/audit-logs.csv`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const lines = (await res.text()).split('\r\n');
    const row = lines.find((l) => l.includes(',account.create,'));
    expect(row).toContain(',operator,break-glass,');
    expect(row).toContain('""actorName"": ""break-glass""');

    // The clinic's chain still verifies with the operator's entries in it.
    const verified = await call(stack.url, 'GET', '/v1/audit-logs/verify', { token });
    expect(verified.body).toMatchObject({ ok: true });
  });
});
