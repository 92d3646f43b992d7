import { temporalConnectionOptions } from '../temporal/connection-options';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { checkAppLogin, createDb } from '../db/connection';
import { apiListenerProblems, ConfigError, loadConfig, type Config } from '../lib/config';
import { createLogger } from '../lib/logger';
import { httpMetrics, newRegistry, poolMetrics, sampled, startMetricsListener } from '../lib/metrics';
import { startTracing } from '../lib/tracing';
import { createTemporalClient } from '../temporal/client';
import { appDeps, createApp, type AppDeps } from './app';
import { answerClientErrors } from './client-error';

export interface RunningApi {
  server: http.Server;
  url: string;
  /** The operator listener (OPERATOR_HOST:OPERATOR_PORT): /v1/operator/* answers only there. */
  operatorServer: http.Server;
  operatorUrl: string;
  /** Where GET /metrics answers, when METRICS_PORT is set. */
  metricsUrl?: string;
  close(): Promise<void>;
}

/**
 * Starts the API. HTTPS (TLS 1.2+) when TLS_CERT_FILE/TLS_KEY_FILE are set; plain HTTP otherwise,
 * which is only for local development or behind a TLS-terminating load balancer (BEHIND_TLS_PROXY).
 */
export async function startApi(config: Config): Promise<RunningApi> {
  const refused = apiListenerProblems(config);
  if (refused.length) throw new ConfigError(refused);
  const log = createLogger({ name: 'api', level: config.LOG_LEVEL });
  const db = createDb({ url: config.DATABASE_URL, poolMax: config.DATABASE_POOL_MAX, applicationName: 'for-clinic-api' });
  await checkAppLogin(db).catch(async (err) => {
    await db.destroy();
    throw err;
  });
  const tracing = startTracing(config, 'for-clinic-api');
  const temporal = createTemporalClient({ ...temporalConnectionOptions(config), namespace: config.TEMPORAL_NAMESPACE, interceptors: tracing?.clientInterceptors });
  const tlsListener = Boolean(config.TLS_CERT_FILE && config.TLS_KEY_FILE);
  let shuttingDown = false;
  const deps = { ...appDeps(config, { db, temporal, log, tls: tlsListener || config.BEHIND_TLS_PROXY, isShuttingDown: () => shuttingDown }), tracing };
  const metrics = config.METRICS_PORT === undefined ? undefined : apiMetrics(deps);
  const apps = (['public', 'operator'] as const).map((listener) => {
    const { app } = createApp({ ...deps, metrics: metrics?.http }, { listener });
    app.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return;
      log.warn({ err: { message: err.message, code: err.code }, listener }, 'request stream error');
    });
    return app;
  });
  const tls = tlsListener ? { cert: readFileSync(config.TLS_CERT_FILE!), key: readFileSync(config.TLS_KEY_FILE!) } : undefined;
  // Track idle keep-alive sockets so shutdown does not wait for clients that never hang up.
  const sockets = new Set<Socket>();
  const listeners: Listening[] = [];
  try {
    listeners.push(await listen(apps[0]!.callback(), { host: config.HOST, port: config.PORT, tls, sockets, log }));
    // The operators' own listener (README: Architecture): their routes answer only here.
    listeners.push(await listen(apps[1]!.callback(), { host: config.OPERATOR_HOST, port: config.OPERATOR_PORT, tls, sockets, log }));
  } catch (err) {
    await Promise.allSettled([...listeners.map((l) => new Promise((r) => l.server.close(r))), db.destroy(), temporal.close()]);
    throw err;
  }
  const [publicListener, operatorListener] = listeners as [Listening, Listening];
  const { server, url } = publicListener;
  const metricsListener = metrics ? await startMetricsListener(metrics.registry, config.METRICS_HOST, config.METRICS_PORT!) : undefined;
  log.info({ url, operatorUrl: operatorListener.url, metrics: metricsListener?.url }, 'api listening');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      shuttingDown = true;
      log.info('api shutting down: refusing new connections, finishing in-flight requests');
      const closed = Promise.all(listeners.map((l) => new Promise<void>((resolve) => l.server.close(() => resolve()))));
      for (const l of listeners) l.server.closeIdleConnections();
      const force = setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, config.SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(force);
      await Promise.allSettled([db.destroy(), temporal.close(), metricsListener?.close(), tracing?.flush()]);
      log.info('api stopped');
    })());
  return { server, url, operatorServer: operatorListener.server, operatorUrl: operatorListener.url, metricsUrl: metricsListener?.url, close };
}

interface Listening {
  server: http.Server;
  url: string;
}

/** One listener: HTTPS when a certificate is configured, with the same timeouts and client-error answers. */
async function listen(
  handler: http.RequestListener,
  opts: { host: string; port: number; tls?: { cert: Buffer; key: Buffer }; sockets: Set<Socket>; log: ReturnType<typeof createLogger> },
): Promise<Listening> {
  const server = opts.tls ? https.createServer({ ...opts.tls, minVersion: 'TLSv1.2' }, handler) : http.createServer(handler);
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  // An idle keep-alive connection is closed by its client (or proxy) first, never by us: a client
  // that sends on a connection we are closing at that instant gets a reset instead of an answer.
  // Clients take the hint in our Keep-Alive header minus a margin; proxies idle out sooner (Caddy:
  // 30 s in deploy/caddy/Caddyfile, AWS ALB: 60 s).
  server.keepAliveTimeout = 65_000;
  answerClientErrors(server, opts.log);
  server.on('connection', (s: Socket) => {
    opts.sockets.add(s);
    s.once('close', () => opts.sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return { server, url: `${opts.tls ? 'https' : 'http'}://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}` };
}

/** What an API process reports: requests, its pool, the password hasher's queue, export slots. */
function apiMetrics(deps: AppDeps) {
  const registry = newRegistry('api');
  poolMetrics(registry, deps.db, 'api');
  sampled(registry, 'forclinic_password_hash_running', 'Password hashes and verifications running now', () => deps.passwords.load.running);
  sampled(registry, 'forclinic_password_hash_waiting', 'Password hashes and verifications queued (a full queue answers 429)', () => deps.passwords.load.waiting);
  sampled(registry, 'forclinic_export_slots_in_use', 'Long exports running now (EXPORT_CONCURRENCY per process)', () => deps.exports.inUse);
  return { registry, http: httpMetrics(registry) };
}

if (require.main === module) {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(`api: ${(err as Error).message}`);
    process.exit(1);
  }
  startApi(config).then(
    (api) => {
      const stop = () =>
        api.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, stop);
      // Started by the launcher: if it dies, do not linger as an orphan.
      if (process.send) process.once('disconnect', stop);
    },
    (err) => {
      console.error(`api failed to start: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
