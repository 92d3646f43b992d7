import type { Tracer } from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { WorkerOptions } from '@temporalio/worker';

/**
 * Optional OpenTelemetry tracing (README: Monitoring): one trace from an API request through the
 * Temporal client's start, the workflow and its activities, exported over OTLP/HTTP when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set. Off by default, and then free: no OpenTelemetry module is
 * even loaded (they are required below, only once tracing is on).
 *
 * Traces leave the process, so what they carry is allow-listed at export: span names are route
 * templates and workflow / activity type names, attributes only those in ALLOWED_ATTRIBUTES,
 * and nothing else — no workflow ids (they hold clinic ids), no error messages or exception
 * events (they may quote personal or clinical text), no request headers.
 */

/** The only span attributes that are exported; every other one is dropped. */
export const ALLOWED_ATTRIBUTES: ReadonlySet<string> = new Set([
  'http.request.method',
  'http.route',
  'http.response.status_code',
  'forclinic.listener',
]);

export interface Tracing {
  tracer: Tracer;
  /** For the Temporal clients of the API and the worker: starts carry the trace in their headers. */
  clientInterceptors: { workflow: WorkflowClientInterceptor[] };
  /** Activities join the trace of the workflow that scheduled them. */
  activityInterceptors: NonNullable<NonNullable<WorkerOptions['interceptors']>['activity']>;
  /** The sink through which workflow spans (made inside the sandbox) are exported. */
  sinks: NonNullable<WorkerOptions['sinks']>;
  /** Sends what is buffered (tests, and before a process exits). */
  flush(): Promise<void>;
}

/** The workflow-side interceptors, to bundle into the workflow code when tracing is on. */
export const TRACING_WORKFLOW_MODULES = [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')];

/**
 * A span as it may leave the process: the same span seen through the allow-list (the SDK's own
 * object stays untouched for other processors).
 */
export function allowListed(span: ReadableSpan): ReadableSpan {
  const attributes = Object.fromEntries(Object.entries(span.attributes).filter(([key]) => ALLOWED_ATTRIBUTES.has(key)));
  return Object.create(span, {
    attributes: { value: attributes, enumerable: true },
    events: { value: [], enumerable: true },
    links: { value: span.links.map((l) => ({ context: l.context })), enumerable: true },
    status: { value: { code: span.status.code }, enumerable: true },
    droppedAttributesCount: { value: 0, enumerable: true },
    droppedEventsCount: { value: 0, enumerable: true },
  }) as ReadableSpan;
}

class AllowListExporter implements SpanExporter {
  constructor(private readonly inner: SpanExporter) {}
  export(spans: ReadableSpan[], done: Parameters<SpanExporter['export']>[1]): void {
    this.inner.export(spans.map(allowListed), done);
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

// One provider per process: the API and a worker in one process (tests) share it.
let current: { endpoint: string; tracing: Tracing } | undefined;

/**
 * Tracing for this process when OTEL_EXPORTER_OTLP_ENDPOINT is set (validated by lib/config.ts),
 * else undefined. `serviceName` names the process in the traces (OTEL_SERVICE_NAME overrides it).
 */
export function startTracing(config: { OTEL_EXPORTER_OTLP_ENDPOINT?: string; OTEL_SERVICE_NAME?: string }, serviceName: string): Tracing | undefined {
  const endpoint = config.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint) return undefined;
  if (current) {
    if (current.endpoint !== endpoint) throw new Error('tracing is already exporting to another OTEL_EXPORTER_OTLP_ENDPOINT in this process');
    return current.tracing;
  }
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when tracing is on */
  const api: typeof import('@opentelemetry/api') = require('@opentelemetry/api');
  const { NodeTracerProvider }: typeof import('@opentelemetry/sdk-trace-node') = require('@opentelemetry/sdk-trace-node');
  const { BatchSpanProcessor }: typeof import('@opentelemetry/sdk-trace-base') = require('@opentelemetry/sdk-trace-base');
  const { OTLPTraceExporter }: typeof import('@opentelemetry/exporter-trace-otlp-http') = require('@opentelemetry/exporter-trace-otlp-http');
  const { Resource }: typeof import('@opentelemetry/resources') = require('@opentelemetry/resources');
  const otelTemporal: typeof import('@temporalio/interceptors-opentelemetry') = require('@temporalio/interceptors-opentelemetry');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const resource = new Resource({ 'service.name': config.OTEL_SERVICE_NAME ?? serviceName });
  // OTLP/HTTP's per-signal path under the configured base, as the specification says.
  const exporter = new AllowListExporter(new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/traces` }));
  const processor: SpanProcessor = new BatchSpanProcessor(exporter);
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  // Global: the Temporal interceptors use the global tracer and the AsyncLocalStorage context manager.
  provider.register();
  const tracer = api.trace.getTracer('for-clinic');
  const tracing: Tracing = {
    tracer,
    clientInterceptors: { workflow: [new otelTemporal.OpenTelemetryWorkflowClientInterceptor()] },
    activityInterceptors: [(ctx) => ({ inbound: new otelTemporal.OpenTelemetryActivityInboundInterceptor(ctx), outbound: new otelTemporal.OpenTelemetryActivityOutboundInterceptor(ctx) })],
    sinks: { exporter: otelTemporal.makeWorkflowExporter(processor, resource) },
    flush: () => provider.forceFlush(),
  };
  current = { endpoint, tracing };
  return tracing;
}
