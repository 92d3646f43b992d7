import { createWriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { resolveGoTool } from '../lib/go-binary';

/**
 * The Temporal CLI (which contains the dev server), pinned so every developer, CI run and test
 * talks to the same server: $TEMPORAL_CLI, `temporal` on PATH, our cache, a Go build, or the
 * official release archive for the platform.
 */
export const TEMPORAL_CLI_VERSION = '1.5.1';

const run = promisify(execFile);

async function downloadRelease(target: string, log: (m: string) => void): Promise<boolean> {
  const osName = { linux: 'linux', darwin: 'darwin', win32: 'windows' }[process.platform as string];
  const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch as string];
  if (!osName || !arch) return false;
  const ext = osName === 'windows' ? 'zip' : 'tar.gz';
  const url = `https://github.com/temporalio/cli/releases/download/v${TEMPORAL_CLI_VERSION}/temporal_cli_${TEMPORAL_CLI_VERSION}_${osName}_${arch}.${ext}`;
  log(`downloading ${url} ...`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'temporal-cli-dl-'));
  try {
    const res = await fetch(url);
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
    const archive = path.join(dir, `cli.${ext}`);
    await pipeline(Readable.fromWeb(res.body as never), createWriteStream(archive));
    await run('tar', ['-xf', archive, '-C', dir]);
    await mkdir(path.dirname(target), { recursive: true });
    await rename(path.join(dir, process.platform === 'win32' ? 'temporal.exe' : 'temporal'), target);
    await chmod(target, 0o755);
    return true;
  } catch (err) {
    log(`download failed: ${(err as Error).message}`);
    return false;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export const resolveTemporalCli = (log: (m: string) => void = console.log) =>
  resolveGoTool(
    {
      name: 'temporal',
      module: 'github.com/temporalio/cli/cmd/temporal',
      version: `v${TEMPORAL_CLI_VERSION}`,
      envVar: 'TEMPORAL_CLI',
      fallback: downloadRelease,
    },
    log,
  );

if (require.main === module) {
  resolveTemporalCli()
    .then((p) => console.log(p))
    .catch((err) => {
      console.error(err.message);
      process.exit(1);
    });
}
