import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ALLOWED_ATTRIBUTES, startTracing } from '../lib/tracing';
import { waitFor } from '../lib/process';
import { tenantProvisioningWorkflowId } from '../temporal/workflow-ids';
import { call } from './harness/http';
import { startTestStack, type TestStack } from './harness/stack';

/**
 * OpenTelemetry tracing (lib/tracing.ts) end to end: an operator creates a clinic over HTTP, the
 * API starts its provisioning workflow through the Temporal client, the worker runs it and its
 * activities. Every span goes to an OTLP/HTTP receiver in this test (a tiny server keeping the
 * JSON it is posted) and must share one trace id; and nothing personal, no id and no token may
 * be in what was exported.
 */
jest.setTimeout(120_000);

interface OtlpValue { stringValue?: string; intValue?: string | number; boolValue?: boolean }
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: Array<{ key: string; value: OtlpValue }>;
  events?: unknown[];
  status?: { code?: number; message?: string };
}
interface OtlpExport { resourceSpans: Array<{ resource?: { attributes?: Array<{ key: string; value: OtlpValue }> }; scopeSpans: Array<{ spans: OtlpSpan[] }> }> }

const posts: string[] = [];
const receiver = http.createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    if (req.method === 'POST' && req.url === '/v1/traces' && /json/.test(req.headers['content-type'] ?? '')) posts.push(body);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
const spans = () => posts.flatMap((p) => (JSON.parse(p) as OtlpExport).resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));

let stack: TestStack;
beforeAll(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  stack = await startTestStack({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}` });
});
afterAll(async () => {
  await stack?.stop();
  receiver.close();
});

it('follows one clinic creation from the API through the workflow to its activities, with allow-listed attributes only', async () => {
  const tracing = startTracing(stack.config, 'for-clinic-test')!;
  const clinic = { slug: 'traced-clinic', name: 'トレース医院 山田花子', contractEmails: ['hanako.yamada@traced.example'] };
  const created = await call(stack.operatorUrl, 'POST', '/v1/operator/tenants', { token: stack.operatorToken, json: clinic });
  expect(created.status).toBe(201);
  await stack.resultOf(tenantProvisioningWorkflowId(created.body.id));

  // Workflow spans leave through the worker's sink after the activation that ended them: poll.
  const named = (prefix: string) => spans().filter((s) => s.name.startsWith(prefix));
  await waitFor(
    'the workflow and activity spans',
    async () => {
      await tracing.flush();
      return named('RunWorkflow:tenantProvisioningWorkflow').length > 0 && named('RunActivity:').length > 0 && named('POST /v1/operator/tenants').length > 0;
    },
    30_000,
    200,
  );

  const request = named('POST /v1/operator/tenants')[0]!;
  const start = named('StartWorkflow:tenantProvisioningWorkflow')[0]!;
  const run = named('RunWorkflow:tenantProvisioningWorkflow')[0]!;
  const activities = spans().filter((s) => s.name.startsWith('RunActivity:') && s.traceId === request.traceId);
  expect(start.traceId).toBe(request.traceId);
  expect(run.traceId).toBe(request.traceId);
  expect(activities.length).toBeGreaterThan(0);
  // The request span is the root of it all, with the route template and the status.
  expect(request.parentSpanId || undefined).toBeUndefined();
  expect(Object.fromEntries((request.attributes ?? []).map((a) => [a.key, a.value.stringValue ?? Number(a.value.intValue)]))).toEqual({
    'http.request.method': 'POST',
    'http.route': '/v1/operator/tenants',
    'http.response.status_code': 201,
    'forclinic.listener': 'operator',
  });

  // Nothing outside the allow-list, no events (exception texts), no status messages, anywhere.
  for (const span of spans()) {
    for (const { key } of span.attributes ?? []) expect([span.name, key, ALLOWED_ATTRIBUTES.has(key)]).toEqual([span.name, key, true]);
    expect([span.name, span.events ?? []]).toEqual([span.name, []]);
    expect([span.name, span.status?.message ?? '']).toEqual([span.name, '']);
  }
  const exported = posts.join('\n');
  for (const secret of [created.body.id, clinic.slug, clinic.name, '山田', clinic.contractEmails[0]!, stack.operatorToken, tenantProvisioningWorkflowId(created.body.id)]) {
    expect([secret, exported.includes(secret)]).toEqual([secret, false]);
  }
});
