import path from 'node:path';
import { startEmbeddedPostgres } from '../db/embedded-postgres';
import { startLocalSes } from '../lib/local-ses';
import { isPortOpen, onFreePort } from '../lib/process';
import { supervise, type Supervisable, type Supervisor, type SupervisorOptions } from '../lib/supervisor';
import { startDevServer } from '../temporal/dev-server';

/**
 * The infrastructure under the product — PostgreSQL, Temporal, SES — started locally when no
 * external one is configured. Used by `npm start` (persistent, with UIs) and by the test harness
 * (throw-away, headless). Each part is skipped when its variable points elsewhere.
 */
export interface ServicesOptions {
  dataDir: string;
  /** An existing server, as its owner or an administrator (never the application's login); when unset an embedded PostgreSQL is started. */
  databaseUrl?: string;
  /** A fixed port (taken = an error), or 'auto': a free one, another if it is taken meanwhile (tests). */
  embeddedPgPort: number | 'auto';
  temporalAddress?: string;
  temporalPort: number | 'auto';
  /** 0 = headless. */
  temporalUiPort: number;
  /** Keep Temporal state (a SQLite file) and the local mails (JSON Lines) under dataDir, so both survive restarts. */
  persist: boolean;
  sesEndpoint?: string;
  /** Use real SES (no local server) because AWS credentials are configured. */
  realSes: boolean;
  mailPort: number;
  log: (m: string) => void;
  /**
   * npm start: restart the embedded PostgreSQL and the Temporal dev server when they die, on the
   * same port and data (lib/supervisor.ts). Unset for the test harness and the benchmarks.
   */
  supervision?: Pick<SupervisorOptions<Supervisable>, 'onGiveUp' | 'stopping'> & { onRestart: () => void | Promise<void> };
}

export interface Services {
  /** A URL on the PostgreSQL server as its owner or administrator (embedded: the superuser), for migrations and setup only. */
  serverUrl: string;
  temporalAddress: string;
  temporalUiUrl?: string;
  sesEndpoint?: string;
  mailViewerUrl?: string;
  /** Processes started here and running now (a restart changes the pid), for the launcher's orphan record. */
  processes(): Array<{ name: string; pid: number; marker: string }>;
  stop(): Promise<void>;
}

async function step<T>(log: (m: string) => void, what: string, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  log(`${what}...`);
  try {
    const result = await fn();
    log(`${what}: ok (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return result;
  } catch (err) {
    log(`${what}: FAILED: ${err instanceof Error ? err.message : String(err ?? 'no reason given')}`);
    throw err;
  }
}

/** Runs `start` on the fixed port, or on a free port when `port` is 'auto' (retrying if another process takes it first). */
const onPort = <T>(port: number | 'auto', what: string, log: (m: string) => void, start: (port: number) => Promise<T>) =>
  port === 'auto' ? onFreePort(what, start, { log }) : start(port);

/**
 * A service that is kept running when `supervision` is set (npm start) and simply started
 * otherwise (the test harness and the benchmarks own and stop theirs).
 */
async function keep<T extends Supervisable>(name: string, o: ServicesOptions, start: () => Promise<T>): Promise<Pick<Supervisor<T>, 'current' | 'stop'>> {
  if (o.supervision) return supervise({ name, start, log: o.log, ...o.supervision });
  const started = await start();
  return { current: started, stop: () => started.stop() };
}

export async function startServices(o: ServicesOptions): Promise<Services> {
  const stops: Array<() => Promise<void>> = [];
  const running: Array<{ name: string; marker: string; pid: () => number | undefined }> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((err) => o.log(`stop failed: ${(err as Error).message}`));
  };
  try {
    let serverUrl = o.databaseUrl;
    if (!serverUrl) {
      // A restart uses the port the first start found, so every URL handed out stays valid.
      let pgPort: number | 'auto' = o.embeddedPgPort;
      const pg = await keep('PostgreSQL', o, () =>
        onPort(pgPort, 'PostgreSQL', o.log, async (port) => {
          if (await isPortOpen(port)) throw new Error(`port ${port} is taken; set EMBEDDED_PG_PORT or DATABASE_URL`);
          const db = await step(o.log, `PostgreSQL: starting embedded server on 127.0.0.1:${port}`, () =>
            startEmbeddedPostgres({ dataDir: path.join(o.dataDir, 'postgres'), port, log: o.log }),
          );
          pgPort = port;
          return db;
        }),
      );
      stops.push(() => step(o.log, 'PostgreSQL: stopping', () => pg.stop()));
      running.push({ name: 'postgres', marker: 'postgres', pid: () => pg.current.pid });
      serverUrl = pg.current.url;
    } else {
      o.log(`PostgreSQL: using the server at ${new URL(serverUrl).host}`);
    }

    let temporalAddress = o.temporalAddress;
    let temporalUiUrl: string | undefined;
    if (!temporalAddress) {
      // Restarts reuse the port, the UI port and the SQLite file: workflows carry on where they were.
      let temporalPort: number | 'auto' = o.temporalPort;
      const dev = await keep('Temporal', o, () =>
        onPort(temporalPort, 'Temporal', o.log, async (port) => {
          const server = await step(o.log, `Temporal: starting dev server on 127.0.0.1:${port}`, () =>
            startDevServer({
              port,
              uiPort: o.temporalUiPort || undefined,
              dbFile: o.persist ? path.join(o.dataDir, 'temporal', 'temporal.db') : undefined,
              logFile: path.join(o.dataDir, 'logs', `temporal-${port}.log`),
              log: o.log,
            }),
          );
          temporalPort = port;
          return { ...server, pid: server.process.child.pid, exited: server.process.exited };
        }),
      );
      stops.push(() => step(o.log, 'Temporal: stopping', () => dev.stop()));
      running.push({ name: 'temporal', marker: 'start-dev', pid: () => dev.current.pid });
      temporalAddress = dev.current.address;
      temporalUiUrl = dev.current.uiUrl;
    } else {
      o.log(`Temporal: using TEMPORAL_ADDRESS=${temporalAddress}`);
    }

    let sesEndpoint = o.sesEndpoint;
    let mailViewerUrl: string | undefined = sesEndpoint;
    if (!sesEndpoint && !o.realSes) {
      const ses = await step(o.log, `Mail: starting local SES on 127.0.0.1:${o.mailPort}`, () => startLocalSes({ port: o.mailPort, persistFile: o.persist ? path.join(o.dataDir, 'mail', 'mails.jsonl') : undefined }));
      stops.push(() => step(o.log, 'Mail: stopping', () => ses.close()));
      sesEndpoint = ses.endpoint;
      mailViewerUrl = ses.viewerUrl;
    } else if (o.realSes) {
      o.log('Mail: using Amazon SES (AWS credentials found, no SES_ENDPOINT)');
      mailViewerUrl = undefined;
    }
    const processes = () => running.flatMap(({ name, marker, pid }) => {
      const now = pid();
      return now ? [{ name, marker, pid: now }] : [];
    });
    return { serverUrl, temporalAddress, temporalUiUrl, sesEndpoint, mailViewerUrl, processes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
