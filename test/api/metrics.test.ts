import { randomUUID } from 'node:crypto';
import { enqueueWorkflow } from '../../db/outbox';
import { newRegistry, outboxMetrics } from '../../lib/metrics';
import { call } from '../harness/http';
import { clinicWithAdmin } from '../harness/clinic';
import { startTestStack, type TestStack } from '../harness/stack';

/** What an operator's Prometheus scrapes: GET /metrics on the API's own metrics listener. */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ METRICS_PORT: '0' });
});
afterAll(async () => {
  await stack?.stop();
});

const scrape = async () => {
  const res = await fetch(stack.api.metricsUrl!);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
};
/** The value of one series, e.g. value(text, 'forclinic_http_requests_total', { route: '/healthz', status: '200' }). */
function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

it('counts requests per route template and status, with latency, never per raw path', async () => {
  const { token } = await clinicWithAdmin(stack, 'metrics');
  const before = await scrape();
  const base = value(before, 'forclinic_http_requests_total', { route: '/v1/patients/:id', method: 'GET', status: '404' }) ?? 0;
  for (let i = 0; i < 3; i++) {
    expect((await call(stack.url, 'GET', `/v1/patients/${randomUUID()}`, { token })).status).toBe(404);
  }
  expect((await call(stack.url, 'GET', '/no/such/path')).status).toBe(404);
  expect((await call(stack.operatorUrl, 'GET', '/v1/operator/tenants?limit=1', { token: stack.operatorToken })).status).toBe(200);

  const text = await scrape();
  expect(value(text, 'forclinic_http_requests_total', { listener: 'public', route: '/v1/patients/:id', method: 'GET', status: '404', service: 'api' })).toBe(base + 3);
  // Both listeners of the process report into the same registry, each under its name.
  expect(value(text, 'forclinic_http_requests_total', { listener: 'operator', route: '/v1/operator/tenants', method: 'GET', status: '200' })).toBeGreaterThanOrEqual(1);
  expect(value(text, 'forclinic_http_requests_total', { route: 'unmatched', status: '404' })).toBeGreaterThanOrEqual(1);
  expect(value(text, 'forclinic_http_request_duration_seconds_count', { route: '/v1/patients/:id', method: 'GET' })).toBeGreaterThanOrEqual(3);
  // No series carries an id from a path.
  expect(text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/);
  // The pool, the password hasher's queue and the export slots.
  expect(value(text, 'forclinic_db_pool_connections', { pool: 'api', state: 'used' })).toBeGreaterThanOrEqual(0);
  expect(value(text, 'forclinic_db_pool_connections', { state: 'pending' })).toBe(0);
  expect(value(text, 'forclinic_db_pool_acquire_seconds_count', { pool: 'api' })).toBeGreaterThan(0);
  expect(value(text, 'forclinic_password_hash_waiting')).toBe(0);
  expect(value(text, 'forclinic_export_slots_in_use')).toBe(0);
  expect(value(text, 'forclinic_process_resident_memory_bytes')).toBeGreaterThan(0);
});

it('serves metrics on loopback only, and nothing else there', async () => {
  expect(new URL(stack.api.metricsUrl!).hostname).toBe('127.0.0.1');
  expect((await fetch(stack.api.metricsUrl!.replace('/metrics', '/v1/me'))).status).toBe(404);
  expect((await fetch(stack.api.metricsUrl!, { method: 'POST' })).status).toBe(404);
  // The public API port does not serve them.
  expect((await call(stack.url, 'GET', '/metrics')).status).toBe(404);
});

it('reports the outbox backlog and the age of its oldest row (what the outbox alert watches)', async () => {
  const registry = newRegistry('worker');
  outboxMetrics(registry, stack.database.db);
  const read = async () => registry.metrics();
  expect(value(await read(), 'forclinic_outbox_pending')).toBe(0);
  await stack.database.db.transaction((trx) =>
    enqueueWorkflow(trx, null, { kind: 'start', workflowId: `metrics-test/${randomUUID()}`, workflowType: 'nothing', args: [] }, 600_000),
  );
  const text = await read();
  expect(value(text, 'forclinic_outbox_pending')).toBe(1);
  expect(value(text, 'forclinic_outbox_oldest_age_seconds')).toBeGreaterThanOrEqual(0);
});
