import { temporalConnectionOptions } from '../temporal/connection-options';
import Router from '@koa/router';
import Koa from 'koa';
import type { AddressInfo } from 'node:net';
import { appDeps, createApp } from '../api/app';
import type { AppState } from '../api/state';
import { createDb } from '../db/connection';
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { createTemporalClient } from '../temporal/client';

/**
 * Benchmark target (child of scripts/bench.ts): the real app (both listeners), and next to it a bare Koa route
 * doing one `SELECT 1` on the same pool — the floor the real routes are compared with.
 */
async function main() {
  const config = loadConfig();
  const db = createDb({ url: config.DATABASE_URL, poolMax: config.DATABASE_POOL_MAX });
  const temporal = createTemporalClient({ ...temporalConnectionOptions(config), namespace: config.TEMPORAL_NAMESPACE });
  const { app } = createApp(appDeps(config, { db, temporal, log: createLogger({ level: 'silent' }) }));
  const { app: operatorApp } = createApp(appDeps(config, { db, temporal, log: createLogger({ level: 'silent' }) }), { listener: 'operator' });
  // The same app with session authentication replaced by a fixed identity (set by the parent
  // once it has created the account): the cost of auth is the difference between the two.
  let fixedAuth: AppState['auth'];
  const { app: noAuthApp } = createApp(appDeps(config, { db, temporal, log: createLogger({ level: 'silent' }) }), {
    sessionAuth: () => async (ctx, next) => {
      ctx.state.auth = fixedAuth;
      await next();
    },
  });
  process.on('message', (m: { auth?: AppState['auth'] }) => {
    if (m.auth) fixedAuth = m.auth;
  });
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
  const [appPort, operatorPort, barePort, noAuthPort] = await Promise.all([listen(app), listen(operatorApp), listen(bare), listen(noAuthApp)]);
  process.send!({ appPort, operatorPort, barePort, noAuthPort });
  process.once('disconnect', () => process.exit(0));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
