import { randomUUID } from 'node:crypto';
import { fetchLocalEmails } from '../../lib/local-ses';
import { MAIL_REJECTED } from '../../activities/email';
import { insertTenant } from '../../db/tenants';
import { TENANT_ID } from '../../temporal/search-attributes';
import { tenantProvisioningWorkflowId } from '../../temporal/workflow-ids';
import { call } from '../harness/http';
import { startTestStack, type TestStack } from '../harness/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

const uniqueSlug = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
const op = (method: string, path: string, json?: unknown) =>
  call(stack.operatorUrl, method, path, { token: stack.operatorToken, json });

function expectProblem(reply: { status: number; headers: Headers; body: any; text: string }, status: number, code: string) {
  expect(reply.status).toBe(status);
  expect(reply.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(reply.body.code).toBe(code);
  expect(reply.body.status).toBe(status);
  expect(reply.body.requestId).toBe(reply.headers.get('x-request-id'));
  expect(reply.text).not.toMatch(/\bat .+\.(ts|js):\d+/); // no stack trace
}

describe('creating a clinic', () => {
  it('answers 201, runs provisioning, mails every contract address once, then the clinic is active', async () => {
    const slug = uniqueSlug('sakura');
    const addresses = [`Info@${slug}.example`, `it@${slug}.example`];
    const created = await op('POST', '/v1/operator/tenants', { slug, name: ' さくらクリニック ', contractEmails: addresses });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      slug,
      name: 'さくらクリニック',
      contractEmails: addresses.map((a) => a.toLowerCase()),
      status: 'provisioning',
    });
    expect(created.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.body.createdAt).toMatch(/Z$/);
    expect(created.headers.get('location')).toBe(`/v1/operator/tenants/${created.body.id}`);

    const handle = stack.temporal.client.workflow.getHandle(tenantProvisioningWorkflowId(created.body.id));
    expect(await handle.result()).toEqual({ tenantId: created.body.id, welcomeEmailsSent: 2, outcome: 'provisioned' });
    const description = await handle.describe();
    expect(description.typedSearchAttributes.get({ name: 'TenantId', type: 'KEYWORD' } as never)).toBe(created.body.id);

    const fetched = await op('GET', `/v1/operator/tenants/${created.body.id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body.status).toBe('active');

    const mails = (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.subject.includes('さくらクリニック') && m.destination.to[0]?.endsWith(`@${slug}.example`));
    expect(mails.map((m) => m.destination.to[0]).sort()).toEqual(addresses.map((a) => a.toLowerCase()).sort());
  });

  it('refuses a duplicate slug with 409 slug_taken and keeps the first clinic unchanged', async () => {
    const slug = uniqueSlug('dup');
    const first = await op('POST', '/v1/operator/tenants', { slug, name: 'First', contractEmails: ['a@first.example'] });
    expect(first.status).toBe(201);
    const second = await op('POST', '/v1/operator/tenants', { slug, name: 'Second', contractEmails: ['b@second.example'] });
    expectProblem(second, 409, 'slug_taken');
    const list = await op('GET', '/v1/operator/tenants?limit=200');
    expect(list.body.items.filter((t: { slug: string }) => t.slug === slug).map((t: { name: string }) => t.name)).toEqual(['First']);
  });

  it('lists every invalid field with validation_failed', async () => {
    const reply = await op('POST', '/v1/operator/tenants', {
      slug: 'Bad Slug!',
      name: '',
      contractEmails: ['not-an-email'],
      extra: true,
    });
    expectProblem(reply, 400, 'validation_failed');
    const fields = reply.body.errors.map((e: { field: string }) => e.field).sort();
    expect(fields).toEqual(['contractEmails.0', 'extra', 'name', 'slug']);
  });

  it('requires at least one contract address and rejects reserved slugs', async () => {
    const reply = await op('POST', '/v1/operator/tenants', { slug: 'admin', name: 'X', contractEmails: [] });
    expectProblem(reply, 400, 'validation_failed');
    expect(reply.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['contractEmails', 'slug']);
  });
});

describe('reading and changing clinics', () => {
  it('pages through clinics with a stable cursor', async () => {
    const slugs = await Promise.all(
      [1, 2, 3].map(async (i) => {
        const slug = uniqueSlug(`page${i}`);
        expect((await op('POST', '/v1/operator/tenants', { slug, name: `P${i}`, contractEmails: [`x@${slug}.example`] })).status).toBe(201);
        return slug;
      }),
    );
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: any = await op('GET', `/v1/operator/tenants?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((t: { slug: string }) => t.slug));
      cursor = page.body.nextCursor;
      pages += 1;
    } while (cursor && pages < 100);
    expect(new Set(seen).size).toBe(seen.length);
    for (const s of slugs) expect(seen).toContain(s);
  });

  it('rejects a malformed cursor and an out-of-range limit', async () => {
    expectProblem(await op('GET', '/v1/operator/tenants?cursor=%%%'), 400, 'invalid_cursor');
    expectProblem(await op('GET', '/v1/operator/tenants?limit=0'), 400, 'validation_failed');
    expectProblem(await op('GET', '/v1/operator/tenants?limit=abc'), 400, 'validation_failed');
  });

  it('patches name, addresses and status, and refuses a slug change', async () => {
    const slug = uniqueSlug('patch');
    const created = await op('POST', '/v1/operator/tenants', { slug, name: 'Old', contractEmails: [`a@${slug}.example`] });
    await stack.resultOf(tenantProvisioningWorkflowId(created.body.id));
    const id = created.body.id;
    const patched = await op('PATCH', `/v1/operator/tenants/${id}`, { name: 'New', contractEmails: [`b@${slug}.example`], status: 'suspended' });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: 'New', contractEmails: [`b@${slug}.example`], status: 'suspended', slug });
    expect(Date.parse(patched.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.body.updatedAt));
    expectProblem(await op('PATCH', `/v1/operator/tenants/${id}`, { slug: 'other-slug' }), 400, 'validation_failed');
    expectProblem(await op('PATCH', `/v1/operator/tenants/${id}`, {}), 400, 'validation_failed');
    expect((await op('GET', `/v1/operator/tenants/${id}`)).body.name).toBe('New');
  });

  it('keeps who created, suspended, resumed or set the end of a clinic in the operators\' log (it outlives the clinic\'s), and logs no change as none', async () => {
    const slug = uniqueSlug('logged');
    const created = await op('POST', '/v1/operator/tenants', { slug, name: 'Logged', contractEmails: [`a@${slug}.example`] });
    await stack.resultOf(tenantProvisioningWorkflowId(created.body.id));
    const id = created.body.id;
    const end = new Date(Date.now() + 30 * 86_400_000).toISOString();
    for (const patch of [{ status: 'active' }, { status: 'suspended' }, { status: 'active' }, { contractEndsAt: end }, { contractEndsAt: null }, { name: 'Renamed' }]) {
      expect((await op('PATCH', `/v1/operator/tenants/${id}`, patch)).status).toBe(200);
    }
    const clinicLog = await stack.database.ownerDb('audit_events').where({ tenant_id: id }).whereLike('action', 'tenant.%').orderBy('seq');
    expect(clinicLog.map((e: { action: string }) => e.action)).toEqual(['tenant.create', 'tenant.update', 'tenant.suspend', 'tenant.resume', 'tenant.update', 'tenant.update', 'tenant.update']);
    const platformLog = await stack.database.ownerDb('platform_audit_events').where({ target_id: id }).whereLike('action', 'tenant.%').orderBy('seq');
    expect(platformLog.map((e: { action: string; details: Record<string, unknown> }) => [e.action, e.details])).toEqual([
      ['tenant.create', { slug }],
      ['tenant.suspend', { fields: ['status'], from: 'active', to: 'suspended' }],
      ['tenant.resume', { fields: ['status'], from: 'suspended', to: 'active' }],
      ['tenant.update', { fields: ['contractEndsAt'], contractEndsAt: end, previousContractEndsAt: null }],
      ['tenant.update', { fields: ['contractEndsAt'], contractEndsAt: null, previousContractEndsAt: end }],
    ]);
    expect(platformLog.every((e: { actorType: string }) => e.actorType === 'operator')).toBe(true);
  });

  it('answers 404 for unknown and malformed ids', async () => {
    expectProblem(await op('GET', '/v1/operator/tenants/00000000-0000-4000-8000-000000000000'), 404, 'not_found');
    expectProblem(await op('GET', '/v1/operator/tenants/not-a-uuid'), 404, 'not_found');
    expectProblem(await op('PATCH', "/v1/operator/tenants/1'%20or%201=1", { name: 'x' }), 404, 'not_found');
  });
});

describe('a clinic stuck in provisioning', () => {
  const provision = (tenantId: string, taskQueue = stack.config.TEMPORAL_TASK_QUEUE) =>
    stack.temporal.client.workflow.start('tenantProvisioningWorkflow', {
      workflowId: tenantProvisioningWorkflowId(tenantId),
      taskQueue,
      args: [tenantId],
      typedSearchAttributes: [{ key: TENANT_ID, value: tenantId }],
    });

  it('runs provisioning again once the operator has fixed the refused address: nobody welcomed before is mailed twice, the retry names the operator', async () => {
    const slug = uniqueSlug('refused');
    // An address SES refuses (the API's own check would not take it; SES's suppression list can refuse a valid one).
    const tenant = await insertTenant(stack.database.db, { slug, name: 'Refused Clinic', contractEmails: [`ok@${slug}.example`, `bad@@${slug}.example`] });
    const first = await provision(tenant.id);
    await expect(first.result()).rejects.toMatchObject({ cause: { cause: { type: MAIL_REJECTED } } });
    expect((await stack.database.ownerDb('tenants').where({ id: tenant.id }).first()).status).toBe('provisioning');

    expect((await op('PATCH', `/v1/operator/tenants/${tenant.id}`, { contractEmails: [`ok@${slug}.example`, `it@${slug}.example`] })).status).toBe(200);
    const retried = await op('POST', `/v1/operator/tenants/${tenant.id}/provisioning/retry`);
    expect(retried.status).toBe(202);
    expect(retried.body).toEqual({ workflowId: tenantProvisioningWorkflowId(tenant.id), runId: expect.any(String) });
    expect(retried.body.runId).not.toBe(first.firstExecutionRunId);
    const rerun = stack.temporal.client.workflow.getHandle(retried.body.workflowId, retried.body.runId);
    expect(await rerun.result()).toEqual({ tenantId: tenant.id, welcomeEmailsSent: 1, outcome: 'provisioned' });
    expect((await op('GET', `/v1/operator/tenants/${tenant.id}`)).body.status).toBe('active');

    const mails = (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.destination.to[0]?.endsWith(`@${slug}.example`));
    expect(mails.map((m) => m.destination.to[0]).sort()).toEqual([`it@${slug}.example`, `ok@${slug}.example`]);

    const logged = await stack.database.ownerDb('audit_events').where({ tenant_id: tenant.id, action: 'tenant.provisioning_retry' });
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ actorType: 'operator', details: { workflowId: retried.body.workflowId, runId: retried.body.runId } });
    const platform = await stack.database.ownerDb('platform_audit_events').where({ target_id: tenant.id, action: 'tenant.provisioning_retry' });
    expect(platform).toHaveLength(1);

    // Open now: nothing to retry.
    expectProblem(await op('POST', `/v1/operator/tenants/${tenant.id}/provisioning/retry`), 409, 'not_provisioning');
  });

  it('refuses a retry while the run is still going (409 provisioning_running), and starts one after it was terminated', async () => {
    const slug = uniqueSlug('stuck');
    const tenant = await insertTenant(stack.database.db, { slug, name: 'Stuck Clinic', contractEmails: [`a@${slug}.example`] });
    // A run no worker picks up stays running, as one retrying a long outage does.
    const running = await provision(tenant.id, `nobody-${slug}`);
    expectProblem(await op('POST', `/v1/operator/tenants/${tenant.id}/provisioning/retry`), 409, 'provisioning_running');
    await running.terminate('an operator ended it in the Temporal UI');
    const retried = await op('POST', `/v1/operator/tenants/${tenant.id}/provisioning/retry`);
    expect(retried.status).toBe(202);
    expect(await stack.temporal.client.workflow.getHandle(retried.body.workflowId, retried.body.runId).result()).toMatchObject({ outcome: 'provisioned', welcomeEmailsSent: 1 });
  });

  it('answers 404 for an unknown clinic', async () => {
    expectProblem(await op('POST', `/v1/operator/tenants/${randomUUID()}/provisioning/retry`), 404, 'not_found');
  });
});

describe('bad requests never become 500s', () => {
  it('401 without or with a wrong operator token', async () => {
    expectProblem(await call(stack.operatorUrl, 'GET', '/v1/operator/tenants'), 401, 'unauthorized');
    expectProblem(await call(stack.operatorUrl, 'GET', '/v1/operator/tenants', { token: 'x'.repeat(64) }), 401, 'unauthorized');
    expectProblem(await call(stack.operatorUrl, 'GET', '/v1/operator/tenants', { headers: { authorization: `Basic ${stack.operatorToken}` } }), 401, 'unauthorized');
  });

  it('400 invalid_json for malformed JSON', async () => {
    const reply = await call(stack.operatorUrl, 'POST', '/v1/operator/tenants', { token: stack.operatorToken, raw: '{"slug": "x",' });
    expectProblem(reply, 400, 'invalid_json');
  });

  it('400 invalid_json for bytes that are not UTF-8, never stored as U+FFFD', async () => {
    const slug = uniqueSlug('bytes');
    for (const bad of [Buffer.from([0xff, 0xfe]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80])]) {
      const raw = Buffer.concat([Buffer.from(`{"slug":"${slug}","name":"bad`), bad, Buffer.from(`","contractEmails":["a@${slug}.example"]}`)]);
      const reply = await call(stack.operatorUrl, 'POST', '/v1/operator/tenants', { token: stack.operatorToken, raw, headers: { 'content-type': 'application/json' } });
      expectProblem(reply, 400, 'invalid_json');
      expect(reply.body.detail).toBe('The request body is not valid UTF-8.');
    }
    expect(await stack.database.ownerDb('tenants').where({ slug }).first()).toBeUndefined();
  });

  it('415 for a body that is not JSON', async () => {
    const reply = await call(stack.operatorUrl, 'POST', '/v1/operator/tenants', {
      token: stack.operatorToken,
      raw: 'slug=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expectProblem(reply, 415, 'unsupported_media_type');
    // Compressed JSON is not read (it used to fail as invalid_json).
    const gzipped = await call(stack.operatorUrl, 'POST', '/v1/operator/tenants', {
      token: stack.operatorToken,
      raw: '\x1f\x8b\x08\x00',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    expectProblem(gzipped, 415, 'unsupported_media_type');
    // JSON in another charset is not misread as UTF-8 (it used to be 400 invalid_json); UTF-8 declared is fine.
    const body = JSON.stringify({ slug: 'x' });
    const utf16 = await call(stack.operatorUrl, 'POST', '/v1/operator/tenants', { token: stack.operatorToken, raw: body, headers: { 'content-type': 'application/json; charset=utf-16' } });
    expectProblem(utf16, 415, 'unsupported_media_type');
    const utf8 = await call(stack.operatorUrl, 'POST', '/v1/operator/tenants', { token: stack.operatorToken, raw: body, headers: { 'content-type': 'application/json; charset=UTF-8' } });
    expectProblem(utf8, 400, 'validation_failed');
  });

  it('400 for a body sent to a route that takes none; an empty object is no body', async () => {
    // A route without a body of its own (here one that resets an operator; this one does not exist).
    const path = `/v1/operator/operators/${randomUUID()}/reset`;
    expectProblem(await call(stack.operatorUrl, 'POST', path, { token: stack.operatorToken, json: { x: 1 } }), 400, 'validation_failed');
    expectProblem(await call(stack.operatorUrl, 'POST', path, { token: stack.operatorToken, json: [] }), 400, 'validation_failed');
    expect((await call(stack.operatorUrl, 'POST', path, { token: stack.operatorToken, json: {} })).status).toBe(404);
    expect((await call(stack.operatorUrl, 'POST', path, { token: stack.operatorToken })).status).toBe(404);
  });

  it('413 for a body over the limit, declared or streamed', async () => {
    const big = JSON.stringify({ slug: 'big', name: 'x'.repeat(2 * 1024 * 1024), contractEmails: ['a@b.example'] });
    expectProblem(await call(stack.operatorUrl, 'POST', '/v1/operator/tenants', { token: stack.operatorToken, raw: big }), 413, 'payload_too_large');
    const chunked = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 3; i += 1) controller.enqueue(new TextEncoder().encode('x'.repeat(512 * 1024)));
        controller.close();
      },
    });
    const res = await fetch(`${stack.operatorUrl}/v1/operator/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.operatorToken}`, 'content-type': 'application/json' },
      body: chunked,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { code: string }).code).toBe('payload_too_large');
  });

  it('404 problem+json for unknown routes, 405 for wrong methods', async () => {
    expectProblem(await call(stack.url, 'GET', '/v1/nothing-here'), 404, 'not_found');
    expectProblem(await call(stack.operatorUrl, 'DELETE', '/v1/operator/tenants', { token: stack.operatorToken }), 405, 'method_not_allowed');
  });

  it('keeps a caller\'s X-Request-Id only when it is at most 64 characters of A-Z a-z 0-9 . _ -', async () => {
    const idOf = async (sent: string) => {
      const reply = await call(stack.url, 'GET', '/v1/nothing-here', { headers: { 'x-request-id': sent } });
      expect(reply.body.requestId).toBe(reply.headers.get('x-request-id'));
      return reply.headers.get('x-request-id');
    };
    for (const kept of ['a', 'front-end_1.2', 'x'.repeat(64), 'A-Za-z0-9._-']) expect(await idOf(kept)).toBe(kept);
    for (const replaced of ['x'.repeat(65), 'a:b', 'a b', 'a/b', '<script>', 'id\u00e9', 'a;b', '"quoted"', 'id%0A']) {
      expect([replaced, await idOf(replaced)]).toEqual([replaced, expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)]);
    }
  });

  it('puts a request id and security headers on every response', async () => {
    const reply = await call(stack.url, 'GET', '/healthz', { headers: { 'x-request-id': 'front-end-1234' } });
    expect(reply.headers.get('x-request-id')).toBe('front-end-1234');
    const unsafe = await call(stack.url, 'GET', '/healthz', { headers: { 'x-request-id': 'bad\tid' } });
    expect(unsafe.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(reply.headers.get('x-content-type-options')).toBe('nosniff');
    expect(reply.headers.get('cache-control')).toBe('no-store');
    expect(reply.headers.get('content-security-policy')).toContain("default-src 'none'");
    // Plain HTTP in tests: HSTS would be a lie here.
    expect(reply.headers.get('strict-transport-security')).toBeNull();
  });
});
