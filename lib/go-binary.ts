import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createReadStream, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * Finds a pinned tool that is built from a Go module (the Temporal CLI, local-kms): an explicit
 * path from `envVar`, the command on PATH, our cache outside the repo, else `go install` of the
 * pinned version into that cache, else the caller's `fallback` (e.g. an official download).
 */
const run = promisify(execFile);
const exe = (name: string) => (process.platform === 'win32' ? `${name}.exe` : name);

export interface GoTool {
  /** Command name, e.g. "temporal". */
  name: string;
  /** `go install` target without version, e.g. github.com/temporalio/cli/cmd/temporal. */
  module: string;
  version: string;
  envVar: string;
  /** Only accept a binary on PATH when this is true (a different version may be there). */
  acceptFromPath?: boolean;
  fallback?: (target: string, log: (m: string) => void) => Promise<boolean>;
}

export function goToolCacheDir(tool: Pick<GoTool, 'name' | 'version'>): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'for-clinic', tool.name, tool.version);
}

async function onPath(name: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(process.platform === 'win32' ? 'where' : 'which', [name]);
    return stdout.split(/\r?\n/)[0]?.trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * SHA-256 of each pinned tool as built here, per Go toolchain and platform (Go builds are
 * reproducible for a given toolchain): lib/go-tool-checksums.json. A build or a cached binary
 * whose digest differs from a recorded one is refused; a toolchain with no recorded digest yet
 * is accepted with a loud notice naming the digest to record.
 */
type Checksums = Record<string, Record<string, string>>;
const CHECKSUMS = path.join(__dirname, 'go-tool-checksums.json');

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function recordedDigests(tool: GoTool): Promise<Record<string, string>> {
  const all = JSON.parse(await readFile(CHECKSUMS, 'utf8')) as Checksums;
  return all[`${tool.name}@${tool.version}`] ?? {};
}

/** Why `file` must not be used, or undefined when its digest is a recorded one (or none is recorded for `toolchain`). */
export async function checksumProblem(tool: GoTool, file: string, toolchain: string | undefined, log: (m: string) => void): Promise<string | undefined> {
  const digest = await sha256File(file);
  const recorded = await recordedDigests(tool);
  if (Object.values(recorded).includes(digest)) return undefined;
  if (toolchain && recorded[toolchain] === undefined) {
    log(`NOTICE: no recorded SHA-256 for ${tool.name} ${tool.version} built with ${toolchain}; this build is ${digest}. Review it and add it to lib/go-tool-checksums.json.`);
    return undefined;
  }
  return `${tool.name} ${tool.version} at ${file} has SHA-256 ${digest}, which is not the recorded one${toolchain ? ` for ${toolchain} (${recorded[toolchain]})` : ''}`;
}

async function goInstall(tool: GoTool, target: string, log: (m: string) => void): Promise<boolean> {
  let toolchain: string;
  try {
    const { stdout } = await run('go', ['env', 'GOVERSION', 'GOOS', 'GOARCH']);
    const [version, os_, arch] = stdout.trim().split(/\s+/);
    toolchain = `${version} ${os_}/${arch}`;
  } catch {
    return false;
  }
  log(`building ${tool.name} ${tool.version} with Go (first run only; takes a while)...`);
  const gobin = await mkdtemp(path.join(os.tmpdir(), `${tool.name}-build-`));
  try {
    await run('go', ['install', `${tool.module}@${tool.version}`], {
      env: { ...process.env, GOBIN: gobin, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
      maxBuffer: 64 * 1024 * 1024,
    });
    await mkdir(path.dirname(target), { recursive: true });
    const built = path.join(gobin, exe(path.basename(tool.module)));
    const problem = await checksumProblem(tool, built, toolchain, log);
    if (problem) throw new Error(`refusing the build: ${problem}`);
    await copyFile(built, `${target}.tmp`);
    await chmod(`${target}.tmp`, 0o755);
    const { rename } = await import('node:fs/promises');
    await rename(`${target}.tmp`, target); // atomic: a parallel resolver never sees half a file
    return true;
  } catch (err) {
    log(`go install of ${tool.name} failed: ${(err as Error).message.split('\n').slice(-5).join(' ')}`);
    return false;
  } finally {
    await rm(gobin, { recursive: true, force: true });
  }
}

export async function resolveGoTool(tool: GoTool, log: (m: string) => void = console.log): Promise<string> {
  const fromEnv = process.env[tool.envVar];
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`${tool.envVar}=${fromEnv} does not exist`);
    return fromEnv;
  }
  if (tool.acceptFromPath !== false) {
    const found = await onPath(tool.name);
    if (found) return found;
  }
  const cached = path.join(goToolCacheDir(tool), exe(tool.name));
  if (existsSync(cached)) {
    // A cached binary is checked like a fresh build: one that matches no recorded digest is rebuilt.
    const problem = await checksumProblem(tool, cached, undefined, log);
    if (!problem) return cached;
    log(`${problem}; rebuilding it`);
    await rm(cached, { force: true });
  }
  if (await goInstall(tool, cached, log)) return cached;
  if (tool.fallback && (await tool.fallback(cached, log))) return cached;
  throw new Error(`no ${tool.name}: set ${tool.envVar}, put ${tool.name} ${tool.version} on PATH, or install Go`);
}
