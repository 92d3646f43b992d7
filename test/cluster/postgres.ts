import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedDb } from '../../db/embedded-postgres';
import { onFreePort } from '../../lib/process';

/**
 * The production-shape test's own PostgreSQL (embedded, in its data folder): the product's
 * database and Temporal's two live on it, as they would share a managed server, and the test may
 * restart it without disturbing anything else on the machine.
 */
export interface ClusterPostgres {
  /** The superuser's URL on the `postgres` database (setup only: migrations, Temporal's schema). */
  serverUrl: string;
  /** Fast shutdown (every connection is cut), then start again on the same port and data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startClusterPostgres(dataDir: string, log: (m: string) => void): Promise<ClusterPostgres> {
  const folder = path.join(dataDir, 'postgres');
  let current: EmbeddedDb | undefined;
  const port = await onFreePort('PostgreSQL', async (p) => {
    current = await startEmbeddedPostgres({ dataDir: folder, port: p, log });
    return p;
  }, { log });
  return {
    serverUrl: current!.url,
    restart: async () => {
      await current!.stop();
      current = await startEmbeddedPostgres({ dataDir: folder, port, log });
    },
    stop: () => current!.stop(),
  };
}
