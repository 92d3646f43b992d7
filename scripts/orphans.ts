import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * What a launcher that died without cleaning up (SIGKILL, a crash) left running. The launcher
 * records its own pid and its children's; the next `npm start` stops those that still run and
 * are still what was recorded (checked through /proc, so a reused pid is never touched).
 */
export interface Recorded {
  name: string;
  pid: number;
  /** A fragment of the command line that identifies the process. */
  marker: string;
}

const file = (dataDir: string) => path.join(dataDir, 'run', 'launcher.json');
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
};

export async function recordProcesses(dataDir: string, children: Recorded[]): Promise<void> {
  await mkdir(path.dirname(file(dataDir)), { recursive: true });
  await writeFile(file(dataDir), JSON.stringify({ launcher: process.pid, children }));
}

export async function forgetProcesses(dataDir: string): Promise<void> {
  await rm(file(dataDir), { force: true });
}

export async function reapOrphans(dataDir: string, log: (m: string) => void): Promise<number> {
  if (!existsSync(file(dataDir))) return 0;
  const { launcher, children } = JSON.parse(readFileSync(file(dataDir), 'utf8')) as { launcher: number; children: Recorded[] };
  if (launcher !== process.pid && alive(launcher)) throw new Error(`another launcher (pid ${launcher}) is running on ${dataDir}`);
  let reaped = 0;
  for (const c of children) {
    const line = cmdline(c.pid);
    if (!alive(c.pid) || !line?.includes(c.marker)) continue;
    log(`stopping ${c.name} (pid ${c.pid}) left running by a previous launcher`);
    process.kill(c.pid, 'SIGINT'); // PostgreSQL's fast shutdown; a clean stop for the others
    for (let i = 0; i < 100 && alive(c.pid); i += 1) await new Promise((r) => setTimeout(r, 100));
    if (alive(c.pid)) process.kill(c.pid, 'SIGKILL');
    reaped += 1;
  }
  await forgetProcesses(dataDir);
  return reaped;
}
