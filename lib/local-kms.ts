import { mkdir } from 'node:fs/promises';
import { resolveGoTool } from './go-binary';
import { isPortOpen, startProcess, waitFor, type ManagedProcess } from './process';

/**
 * local-kms: a real implementation of the AWS KMS API, for tests and for trying the `kms` key
 * provider without an AWS account. It listens on every interface (it has no bind option), so it
 * gets port 0 (the OS picks a free one; it logs which) and lives only as long as the test run or
 * the launcher that started it.
 */
export const LOCAL_KMS_VERSION = 'v0.0.0-20260228092603-2a5e92d09ab6';

export const resolveLocalKms = (log?: (m: string) => void) =>
  resolveGoTool({ name: 'local-kms', module: 'github.com/nsmithuk/local-kms', version: LOCAL_KMS_VERSION, envVar: 'LOCAL_KMS' }, log);

export interface LocalKms {
  endpoint: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startLocalKms(opts: { dataDir: string; region: string; logFile?: string; log?: (m: string) => void }): Promise<LocalKms> {
  const binary = await resolveLocalKms(opts.log);
  await mkdir(opts.dataDir, { recursive: true });
  const proc = startProcess('local-kms', binary, [], {
    env: { ...process.env, PORT: '0', KMS_REGION: opts.region, KMS_ACCOUNT_ID: '111122223333', KMS_DATA_PATH: opts.dataDir, KMS_SEED_PATH: `${opts.dataDir}/no-seed.yaml` },
    logFile: opts.logFile,
  });
  try {
    const port = await boundPort(proc, 30_000);
    await waitFor(`local-kms on port ${port}`, () => isPortOpen(port), 10_000);
    return { endpoint: `http://127.0.0.1:${port}`, process: proc, stop: () => proc.stop(5_000) };
  } catch (err) {
    await proc.stop(2_000);
    throw err;
  }
}

/** The port local-kms bound, from its start-up line "Local KMS started on 0.0.0.0:<port>". */
function boundPort(proc: ManagedProcess, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const streams = [proc.child.stdout, proc.child.stderr];
    const done = (fn: () => void) => {
      clearTimeout(timer);
      for (const s of streams) s?.off('data', onData);
      fn();
    };
    const onData = (chunk: Buffer) => {
      seen = (seen + chunk.toString('utf8')).slice(-4_096);
      const match = /Local KMS started on [^\s"]*:(\d+)\D/.exec(seen);
      if (match) done(() => resolve(Number(match[1])));
    };
    const timer = setTimeout(() => done(() => reject(new Error(`local-kms did not report its port within ${timeoutMs} ms`))), timeoutMs);
    for (const s of streams) s?.on('data', onData);
    void proc.exited.then((code) => done(() => reject(new Error(`local-kms exited during start-up (${code})`))));
  });
}

if (require.main === module) {
  resolveLocalKms(console.log)
    .then((p) => console.log(p))
    .catch((err) => {
      console.error(err.message);
      process.exit(1);
    });
}
