import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isUuid } from '../../domain/ids';

const PREFIX = 'forclinic-backup-';
/** Only one generation is written at a time, and an attempt gives up long before a day (README: Backups). */
const ABANDONED_AFTER_MS = 24 * 3600 * 1000;

/**
 * The local folder where a generation's sealed tables wait between the snapshot and the upload,
 * named for the generation: a retry on the same host first removes what the interrupted attempt
 * left (a killed worker or backup process never runs its cleanup), and folders of other
 * generations untouched for a day are removed as abandoned. They hold only sealed data, but
 * they are still customer data, and they fill the disk.
 */
export async function generationScratch(id: string, root = os.tmpdir(), now = Date.now()): Promise<string> {
  if (!isUuid(id)) throw new Error(`not a generation id: ${id}`);
  const own = path.join(root, `${PREFIX}${id}`);
  await rm(own, { recursive: true, force: true });
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (!name.startsWith(PREFIX) || name === path.basename(own)) continue;
    const dir = path.join(root, name);
    const since = await stat(dir).then((s) => now - s.mtimeMs, () => 0);
    if (since > ABANDONED_AFTER_MS) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
  await mkdir(own, { mode: 0o700 });
  return own;
}
