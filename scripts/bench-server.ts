import Router from '@koa/router';
import Koa from 'koa';
import type { AddressInfo } from 'node:net';
import { appDeps, createApp } from '../api/app';
import { createDb } from '../db/connection';
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { createTemporalClient } from '../temporal/client';

/**
 * Benchmark target (child of scripts/bench.ts): the real app, and next to it a bare Koa route
 * doing one `SELECT 1` on the same pool — the floor the real routes are compared with.
 */
async function main() {
  const config = loadConfig();
  const db = createDb({ url: config.DATABASE_URL, poolMax: config.DATABASE_POOL_MAX });
  const temporal = createTemporalClient({ address: config.TEMPORAL_ADDRESS, namespace: config.TEMPORAL_NAMESPACE });
  const { app } = createApp(appDeps(config, { db, temporal, log: createLogger({ level: 'silent' }) }));
  const bare = new Koa();
  const router = new Router();
  router.get('/select1', async (ctx) => {
    await db.raw('select 1');
    ctx.body = { ok: true };
  });
  bare.use(router.routes());
  const listen = (a: Koa<any>) =>
    new Promise<number>((resolve) => {
      const s = a.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port));
    });
  const [appPort, barePort] = await Promise.all([listen(app), listen(bare)]);
  process.send!({ appPort, barePort });
  process.once('disconnect', () => process.exit(0));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
