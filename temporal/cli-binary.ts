import { execFile } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';

/**
 * Finds the Temporal CLI (which contains the dev server) without Docker or network surprises:
 *   1. $TEMPORAL_CLI, 2. `temporal` on PATH, 3. our cache outside the repo,
 *   4. build the pinned version with Go, 5. the official release archive.
 * The version is pinned so every developer, CI run and test talks to the same server.
 */
export const TEMPORAL_CLI_VERSION = '1.5.1';

const run = promisify(execFile);

export function cacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'for-clinic', 'temporal-cli', `v${TEMPORAL_CLI_VERSION}`);
}

const exe = process.platform === 'win32' ? 'temporal.exe' : 'temporal';

async function onPath(): Promise<string | undefined> {
  const finder = process.platform === 'win32' ? 'where' : 'which';
  try {
    const { stdout } = await run(finder, ['temporal']);
    const found = stdout.split(/\r?\n/)[0]?.trim();
    return found || undefined;
  } catch {
    return undefined;
  }
}

async function buildWithGo(target: string, log: (m: string) => void): Promise<boolean> {
  try {
    await run('go', ['version']);
  } catch {
    return false;
  }
  log(`building Temporal CLI v${TEMPORAL_CLI_VERSION} with Go (first run only; takes a few minutes)...`);
  const gobin = await mkdtemp(path.join(os.tmpdir(), 'temporal-cli-'));
  try {
    await run('go', ['install', `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`], {
      env: { ...process.env, GOBIN: gobin, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
      maxBuffer: 64 * 1024 * 1024,
    });
    await mkdir(path.dirname(target), { recursive: true });
    await rename(path.join(gobin, exe), target).catch(async () => {
      // rename fails across filesystems; fall back to copy.
      const { copyFile } = await import('node:fs/promises');
      await copyFile(path.join(gobin, exe), target);
    });
    await chmod(target, 0o755);
    return true;
  } catch (err) {
    log(`go install failed: ${(err as Error).message.split('\n').slice(-5).join(' ')}`);
    return false;
  } finally {
    await rm(gobin, { recursive: true, force: true });
  }
}

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
    await rename(path.join(dir, exe), target);
    await chmod(target, 0o755);
    return true;
  } catch (err) {
    log(`download failed: ${(err as Error).message}`);
    return false;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function resolveTemporalCli(log: (m: string) => void = console.log): Promise<string> {
  const fromEnv = process.env.TEMPORAL_CLI;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`TEMPORAL_CLI=${fromEnv} does not exist`);
    return fromEnv;
  }
  const found = await onPath();
  if (found) return found;
  const cached = path.join(cacheDir(), exe);
  if (existsSync(cached)) return cached;
  if (await buildWithGo(cached, log)) return cached;
  if (await downloadRelease(cached, log)) return cached;
  throw new Error(
    `no Temporal CLI: set TEMPORAL_CLI, put \`temporal\` v${TEMPORAL_CLI_VERSION} on PATH, install Go, ` +
      'or allow downloads from github.com; or point TEMPORAL_ADDRESS at an existing cluster',
  );
}

if (require.main === module) {
  resolveTemporalCli()
    .then((p) => console.log(p))
    .catch((err) => {
      console.error(err.message);
      process.exit(1);
    });
}
