import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ConfigError, loadConfig } from '../../lib/config';
import { allowListed } from '../../lib/tracing';

/** Tracing's configuration fails closed, its allow-list holds, and off means not even loaded. */
const base = { DATABASE_URL: 'postgres://forclinic_login:pw@127.0.0.1:5432/forclinic', OPERATOR_BREAK_GLASS: 'disabled' };
const problems = (env: Record<string, string>) => {
  try {
    loadConfig({ ...base, ...env });
    return [];
  } catch (err) {
    return (err as ConfigError).problems;
  }
};

describe('tracing configuration', () => {
  it('is off unless OTEL_EXPORTER_OTLP_ENDPOINT is set, and takes a plain http(s) base URL', () => {
    expect(loadConfig(base).OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
    expect(loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SERVICE_NAME: 'api-blue' })).toMatchObject({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_SERVICE_NAME: 'api-blue',
    });
  });

  it('refuses endpoints and settings it would not honour, naming the variable and never echoing a secret', () => {
    const withSecret = problems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://user:s3cr3t-token@collector:4318' });
    expect(withSecret).toEqual(['OTEL_EXPORTER_OTLP_ENDPOINT: must not contain credentials (put them in OTEL_EXPORTER_OTLP_HEADERS)']);
    expect(withSecret.join()).not.toContain('s3cr3t');
    expect(problems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })[0]).toMatch(/^OTEL_EXPORTER_OTLP_ENDPOINT: must be a URL/);
    expect(problems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/?key=abc' })[0]).toMatch(/without query or fragment/);
    expect(problems({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toEqual(['OTEL_EXPORTER_OTLP_PROTOCOL: only http/json is supported (OTLP over HTTP, JSON)']);
    expect(problems({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://elsewhere:4318/v1/traces' })[0]).toMatch(/^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: is not supported/);
    expect(problems({ OTEL_SERVICE_NAME: 'api; rm -rf' })[0]).toMatch(/^OTEL_SERVICE_NAME:/);
  });
});

describe('allowListed', () => {
  it('keeps the span but only allow-listed attributes, no events, links without attributes and no status message', () => {
    const span = {
      name: 'RunActivity:sendEmail',
      attributes: { 'http.route': '/v1/patients/:id', temporalWorkflowId: 'tenant-provisioning/7f0c', 'user.email': 'a@b.example' },
      events: [{ name: 'exception', attributes: { 'exception.message': '山田花子 not found' } }],
      links: [{ context: { traceId: 't', spanId: 's', traceFlags: 1 }, attributes: { note: 'x' } }],
      status: { code: 2, message: 'patient 山田花子 has no consent' },
      spanContext: () => ({ traceId: 't', spanId: 'u', traceFlags: 1 }),
    } as unknown as ReadableSpan;
    const out = allowListed(span);
    expect(out.name).toBe('RunActivity:sendEmail');
    expect(out.spanContext().spanId).toBe('u');
    expect(out.attributes).toEqual({ 'http.route': '/v1/patients/:id' });
    expect(out.events).toEqual([]);
    expect(out.links).toEqual([{ context: { traceId: 't', spanId: 's', traceFlags: 1 } }]);
    expect(out.status).toEqual({ code: 2 });
    expect(span.attributes).toHaveProperty('temporalWorkflowId'); // the SDK's own span is untouched
  });
});

it('costs nothing when off: the API and the worker load no OpenTelemetry SDK, exporter or interceptor', () => {
  const root = path.join(__dirname, '..', '..');
  const script = [
    "require('./api/server'); require('./workers/worker');",
    "const { startTracing } = require('./lib/tracing');",
    "if (startTracing({}, 'x') !== undefined) throw new Error('tracing on without an endpoint');",
    // The no-op API package alone is loaded anyway (prom-client uses it); nothing that records or sends.
    "console.log(JSON.stringify(Object.keys(require.cache).filter((k) => k.includes('opentelemetry') && !k.includes('/@opentelemetry/api/'))));",
  ].join('\n');
  const loaded = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_ENV: 'test' } });
  expect(JSON.parse(loaded.trim().split('\n').pop()!)).toEqual([]);
});
