import { mkdir } from 'node:fs/promises';
import { resolveGoTool } from './go-binary';
import { freePort, isPortOpen, startProcess, waitFor, type ManagedProcess } from './process';

/**
 * local-kms: a real implementation of the AWS KMS API, for tests and for trying the `kms` key
 * provider without an AWS account. It listens on every interface (it has no bind option), so it
 * gets a free port and lives only as long as the test run or the launcher that started it.
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
  const port = await freePort();
  const proc = startProcess('local-kms', binary, [], {
    env: { ...process.env, PORT: String(port), KMS_REGION: opts.region, KMS_ACCOUNT_ID: '111122223333', KMS_DATA_PATH: opts.dataDir, KMS_SEED_PATH: `${opts.dataDir}/no-seed.yaml` },
    logFile: opts.logFile,
  });
  let exited = false;
  void proc.exited.then(() => (exited = true));
  await waitFor(`local-kms on port ${port}`, async () => {
    if (exited) throw new Error('local-kms exited during start-up');
    return isPortOpen(port);
  }, 30_000);
  return { endpoint: `http://127.0.0.1:${port}`, process: proc, stop: () => proc.stop(5_000) };
}

if (require.main === module) {
  resolveLocalKms(console.log)
    .then((p) => console.log(p))
    .catch((err) => {
      console.error(err.message);
      process.exit(1);
    });
}
