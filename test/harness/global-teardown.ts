import { rm } from 'node:fs/promises';
import type { Services } from '../../scripts/services';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __services?: Services }).__services?.stop();
  if (process.env.TEST_DATA_DIR) await rm(process.env.TEST_DATA_DIR, { recursive: true, force: true });
}
