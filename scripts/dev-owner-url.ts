import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Development only: `npm start` runs its own embedded PostgreSQL and records the tables' owner
 * URL in the data folder (mode 0600, beside the embedded server's files, which hold the same
 * power), so that host tools such as `npm run operator` work on that stack without
 * MIGRATION_DATABASE_URL. Against an external database nothing is recorded and the tools need
 * MIGRATION_DATABASE_URL as before.
 */
const FILE = 'owner-database-url';

export const dataDirOf = (env: NodeJS.ProcessEnv, root: string) => path.resolve(env.DATA_DIR || path.join(root, '.data'));

export async function recordDevOwnerUrl(dataDir: string, url: string): Promise<void> {
  await writeFile(path.join(dataDir, FILE), `${url}\n`, { mode: 0o600 });
}

export async function devOwnerUrl(dataDir: string): Promise<string | undefined> {
  try {
    return (await readFile(path.join(dataDir, FILE), 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}
