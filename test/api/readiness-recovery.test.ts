import net from 'node:net';
import { appDeps, createApp } from '../../api/app';
import { createDb } from '../../db/connection';
import { createLogger } from '../../lib/logger';
import { onFreePort, waitFor } from '../../lib/process';
import { createTemporalClient } from '../../temporal/client';
import { startDevServer, type DevServer } from '../../temporal/dev-server';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * /readyz follows its dependencies down and up again, with the same clients: nothing is
 * recreated, the API's PostgreSQL pool and Temporal connection reconnect by themselves (what lets
 * `npm start` restart PostgreSQL or Temporal under a running API). Temporal is a dev server of
 * this test's own, stopped and started again on the same port; PostgreSQL is the run's server
 * behind a relay this test cuts (every connection reset, new ones refused) and restores.
 */
jest.setTimeout(120_000);

const silent = createLogger({ level: 'silent' });
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({}, { worker: false });
});
afterAll(async () => {
  await stack?.stop();
});

/** A TCP relay to `target` on a port of its own; `down` resets every connection and refuses new ones. */
async function relay(target: { host: string; port: number }) {
  const open = new Set<net.Socket>();
  let down = false;
  const server = net.createServer((client) => {
    if (down) return void client.destroy();
    const upstream = net.connect(target.port, target.host);
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      open.add(a);
      a.pipe(b);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        open.delete(a);
        b.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    cut() {
      down = true;
      for (const s of open) s.destroy();
    },
    restore() {
      down = false;
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of open) s.destroy();
      server.close(() => resolve());
    }),
  };
}

it('/readyz answers 503 while PostgreSQL or Temporal is down and 200 again once it is back', async () => {
  const startTemporal = (port: number) => startDevServer({ port });
  let temporal: DevServer = await onFreePort('Temporal', startTemporal);
  const temporalPort = Number(temporal.address.split(':')[1]);
  const pgUrl = new URL(stack.database.url);
  const pg = await relay({ host: pgUrl.hostname, port: Number(pgUrl.port || 5432) });
  pgUrl.host = `127.0.0.1:${pg.port}`;
  const db = createDb({ url: pgUrl.toString(), poolMax: 2, applicationName: 'readiness-recovery' });
  const client = createTemporalClient({ address: temporal.address, namespace: 'default' });
  const { app } = createApp(appDeps(stack.config, { db, temporal: client, log: silent }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const readyz = async () => {
    const reply = await fetch(`${base}/readyz`);
    return { status: reply.status, body: (await reply.json()) as { checks: { postgres: string; temporal: string } } };
  };
  const until = (what: string, check: (r: Awaited<ReturnType<typeof readyz>>) => boolean) => waitFor(what, async () => check(await readyz()), 60_000, 100);
  try {
    await until('ready', (r) => r.status === 200);

    await temporal.stop();
    await until('Temporal reported down', (r) => r.status === 503 && r.body.checks.temporal === 'failing' && r.body.checks.postgres === 'ok');
    temporal = await startTemporal(temporalPort);
    await until('ready after Temporal came back', (r) => r.status === 200);

    pg.cut();
    await until('PostgreSQL reported down', (r) => r.status === 503 && r.body.checks.postgres === 'failing' && r.body.checks.temporal === 'ok');
    pg.restore();
    await until('ready after PostgreSQL came back', (r) => r.status === 200);
    expect((await readyz()).body).toEqual({ status: 'ready', checks: { postgres: 'ok', temporal: 'ok' } });
  } finally {
    server.close();
    await client.close().catch(() => undefined);
    await db.destroy();
    await pg.close();
    await temporal.stop();
  }
});
