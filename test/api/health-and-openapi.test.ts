import net from 'node:net';
import Router from '@koa/router';
import { appDeps, createApp } from '../../api/app';
import { openApiPath } from '../../api/route';
import { createLogger } from '../../lib/logger';
import { createTemporalClient } from '../../temporal/client';
import { call } from '../harness/http';
import { startTestStack, type TestStack } from '../harness/stack';

const silent = createLogger({ level: 'silent' });
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

describe('health checks', () => {
  it('/healthz answers 200 without credentials', async () => {
    const reply = await call(stack.url, 'GET', '/healthz');
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ status: 'ok' });
  });

  it('/readyz answers 200 when PostgreSQL and Temporal are reachable', async () => {
    const reply = await call(stack.url, 'GET', '/readyz');
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ status: 'ready', checks: { postgres: 'ok', temporal: 'ok' } });
  });

  it('/readyz answers 503 naming the dependency that is down', async () => {
    // The same app wired to a Temporal address that hangs up on every connection (a port we hold,
    // so no other process can answer there instead).
    const dead = net.createServer((socket) => socket.destroy());
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadTemporal = createTemporalClient({ address: `127.0.0.1:${(dead.address() as net.AddressInfo).port}`, namespace: 'default' });
    const { app } = createApp(appDeps(stack.config, { db: stack.database.db, temporal: deadTemporal, log: silent }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as { port: number };
    try {
      const reply = await call(`http://127.0.0.1:${port}`, 'GET', '/readyz');
      expect(reply.status).toBe(503);
      expect(reply.body).toEqual({ status: 'not_ready', checks: { postgres: 'ok', temporal: 'failing' } });
    } finally {
      server.close();
      await deadTemporal.close().catch(() => undefined);
      dead.close();
    }
  });
});

describe('CORS', () => {
  it('answers preflights and exposes headers for configured front ends only', async () => {
    const { app } = createApp({ ...appDeps(stack.config, { db: stack.database.db, temporal: stack.temporal, log: silent }), corsOrigins: ['https://app.clinic.example'] });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const preflight = await fetch(`${base}/v1/accounts`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.clinic.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.clinic.example');
      expect(preflight.headers.get('access-control-allow-headers')).toContain('Idempotency-Key');
      const real = await fetch(`${base}/healthz`, { headers: { origin: 'https://app.clinic.example' } });
      expect(real.headers.get('access-control-expose-headers')).toContain('X-Request-Id');
      const stranger = await fetch(`${base}/v1/accounts`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
      expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
      expect(stranger.status).not.toBe(204);
    } finally {
      server.close();
    }
  });
});

describe('/openapi.json', () => {
  it('is an OpenAPI 3.1 document that documents every mounted route and method', async () => {
    const reply = await call(stack.url, 'GET', '/openapi.json');
    expect(reply.status).toBe(200);
    expect(reply.body.openapi).toBe('3.1.0');
    const { router } = createApp(appDeps(stack.config, { db: stack.database.db, temporal: stack.temporal, log: silent }));
    const mounted = (router as Router).stack.flatMap((layer) =>
      layer.methods.filter((m) => m !== 'HEAD').map((m) => `${m.toLowerCase()} ${openApiPath(String(layer.path))}`),
    );
    expect(mounted.length).toBeGreaterThan(5);
    const documented = Object.entries(reply.body.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m} ${p}`),
    );
    expect(documented.sort()).toEqual([...new Set(mounted)].sort());
    for (const [, ops] of Object.entries(reply.body.paths as Record<string, Record<string, any>>)) {
      for (const op of Object.values(ops)) {
        expect(op.operationId).toEqual(expect.any(String));
        expect(Object.keys(op.responses).length).toBeGreaterThan(0);
      }
    }
  });

  it('describes the tenant creation body with its required fields', async () => {
    const reply = await call(stack.operatorUrl, 'GET', '/openapi.json');
    const schema = reply.body.paths['/v1/operator/tenants'].post.requestBody.content['application/json'].schema;
    expect(schema.required.sort()).toEqual(['contractEmails', 'name', 'slug']);
    expect(schema.additionalProperties).toBe(false);
  });
});

describe('the passkey reference page', () => {
  it('is served outside production', async () => {
    const page = await call(stack.url, 'GET', '/passkeys');
    expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    expect((await call(stack.url, 'GET', '/passkeys/app.js')).status).toBe(200);
  });

  it('is not served in production: 404 problem+json, and not in /openapi.json', async () => {
    const config = { ...stack.config, NODE_ENV: 'production' as const, VIDEO_TOKEN_SECRET: 'x'.repeat(32) };
    const { app } = createApp(appDeps(config, { db: stack.database.db, temporal: stack.temporal, log: silent }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      for (const path of ['/passkeys', '/passkeys/app.js', '/passkeys/simplewebauthn-browser.js']) {
        const reply = await call(base, 'GET', path);
        expect([path, reply.status, reply.headers.get('content-type'), reply.body?.code]).toEqual([path, 404, 'application/problem+json', 'not_found']);
      }
      const doc = await call(base, 'GET', '/openapi.json');
      expect(Object.keys(doc.body.paths).filter((p) => p.startsWith('/passkeys'))).toEqual([]);
    } finally {
      server.close();
    }
  });
});
