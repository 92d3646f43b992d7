import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Db } from '../db/connection';
import { outboxBacklog } from '../db/outbox';
import type { Mailer } from './mailer';
import { MailRejectedError } from './mailer';

/**
 * Prometheus metrics. Each process (and each API a test starts) has its own registry, served on
 * a listener of its own (METRICS_HOST:METRICS_PORT, loopback by default) rather than the public
 * API port: what the service is doing is for the operators' Prometheus, not for the internet.
 * Names are prefixed `forclinic_`; deploy/prometheus/alerts.yml alerts on them.
 */
export function newRegistry(service: 'api' | 'worker'): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'forclinic_' });
  return registry;
}

/**
 * Request rate, status codes and latency per listener (public or operator) and route template
 * (never per raw path: ids would explode the series).
 */
export function httpMetrics(registry: Registry) {
  const requests = new Counter({
    name: 'forclinic_http_requests_total',
    help: 'HTTP requests answered, by listener, route template, method and status',
    labelNames: ['listener', 'route', 'method', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'forclinic_http_request_duration_seconds',
    help: 'Time to answer an HTTP request (to the end of the handler; streamed bodies continue after), by listener, route template and method',
    labelNames: ['listener', 'route', 'method'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return {
    observe(listener: string, route: string, method: string, status: number, seconds: number) {
      requests.inc({ listener, route, method, status: String(status) });
      duration.observe({ listener, route, method }, seconds);
    },
  };
}

/** The knex (tarn) pool: connections in use, idle, and callers waiting for one, plus how long they waited. */
export function poolMetrics(registry: Registry, db: Db, name: string): void {
  type Pool = {
    numUsed(): number;
    numFree(): number;
    numPendingAcquires(): number;
    on(event: 'acquireRequest', cb: (id: number) => void): void;
    on(event: 'acquireSuccess' | 'acquireFail', cb: (id: number) => void): void;
  };
  const pool = () => (db.client as { pool?: Pool }).pool;
  const labels = { pool: name };
  new Gauge({
    name: 'forclinic_db_pool_connections',
    help: 'Database pool connections by state (used, free, pending = callers waiting for one)',
    labelNames: ['pool', 'state'] as const,
    registers: [registry],
    collect() {
      const p = pool();
      if (!p) return;
      this.set({ ...labels, state: 'used' }, p.numUsed());
      this.set({ ...labels, state: 'free' }, p.numFree());
      this.set({ ...labels, state: 'pending' }, p.numPendingAcquires());
    },
  });
  const waits = new Histogram({
    name: 'forclinic_db_pool_acquire_seconds',
    help: 'Time a caller waited for a pooled database connection',
    labelNames: ['pool'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  });
  // knex creates its pool with the client (createDb), so the waits can be timed from the start.
  const p = pool();
  if (!p) return;
  const started = new Map<number, bigint>();
  p.on('acquireRequest', (id) => started.set(id, process.hrtime.bigint()));
  const done = (id: number) => {
    const t = started.get(id);
    started.delete(id);
    if (t !== undefined) waits.observe(labels, Number(process.hrtime.bigint() - t) / 1e9);
  };
  p.on('acquireSuccess', done);
  p.on('acquireFail', done);
}

/** A gauge read from a function at scrape time (queue lengths, slots in use). */
export function sampled(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
}

/** Outbox backlog and the age of its oldest undispatched row (alert: > 5 min means starts are not going out). */
export function outboxMetrics(registry: Registry, db: Db): void {
  // One query per scrape serves both gauges: the first collect starts it, the second takes it.
  let current: Promise<Awaited<ReturnType<typeof outboxBacklog>> | undefined> | undefined;
  const load = () => {
    if (current) {
      const taken = current;
      current = undefined;
      return taken;
    }
    // A scrape while PostgreSQL is down leaves the gauges as they were; the up/5xx alerts speak for it.
    return (current = outboxBacklog(db).catch(() => undefined));
  };
  new Gauge({
    name: 'forclinic_outbox_pending',
    help: 'Workflow starts and signals committed but not yet dispatched',
    registers: [registry],
    async collect() {
      const backlog = await load();
      if (backlog) this.set(backlog.pending);
    },
  });
  new Gauge({
    name: 'forclinic_outbox_oldest_age_seconds',
    help: 'Age of the oldest undispatched outbox row (0 when none)',
    registers: [registry],
    async collect() {
      const backlog = await load();
      if (backlog) this.set(backlog.oldestAgeSeconds ?? 0);
    },
  });
}

/** Counts what the mail provider accepted and refused, around any Mailer. */
export function countedMailer(registry: Registry, mailer: Mailer): Mailer {
  const sent = new Counter({ name: 'forclinic_mail_sent_total', help: 'Mails the provider accepted', registers: [registry] });
  const failed = new Counter({
    name: 'forclinic_mail_failed_total',
    help: 'Mail attempts that failed: rejected (permanent, e.g. a refused address) or transient (retried)',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  return {
    async send(mail, opts) {
      try {
        const result = await mailer.send(mail, opts);
        sent.inc();
        return result;
      } catch (err) {
        failed.inc({ kind: err instanceof MailRejectedError ? 'rejected' : 'transient' });
        throw err;
      }
    },
    close: () => mailer.close(),
  };
}

export interface MetricsListener {
  url: string;
  close(): Promise<void>;
}

/** Serves GET /metrics of `registry` and nothing else. */
export async function startMetricsListener(registry: Registry, host: string, port: number): Promise<MetricsListener> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
