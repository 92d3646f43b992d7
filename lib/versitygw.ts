import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { resolveGoTool } from './go-binary';
import { freePort, isPortOpen, startProcess, waitFor, type ManagedProcess } from './process';

/**
 * VersityGW: an S3 server on a folder with versioning and S3 Object Lock, for the tests of locked
 * backup generations (s3rver, the other S3 test server, has no Object Lock). Built with Go at a
 * pinned version like the Temporal CLI and local-kms, cached outside the repo, its digest checked
 * (lib/go-tool-checksums.json). Bound to loopback, lives as long as the test that started it.
 */
export const VERSITYGW_VERSION = 'v1.8.0';

export const resolveVersityGw = (log?: (m: string) => void) =>
  resolveGoTool({ name: 'versitygw', module: 'github.com/versity/versitygw/cmd/versitygw', version: VERSITYGW_VERSION, envVar: 'VERSITYGW' }, log);

export interface VersityGw {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startVersityGw(opts: { dataDir: string; region: string; log?: (m: string) => void }): Promise<VersityGw> {
  const binary = await resolveVersityGw(opts.log);
  const root = path.join(opts.dataDir, 'buckets');
  const versions = path.join(opts.dataDir, 'versions');
  await mkdir(root, { recursive: true });
  await mkdir(versions, { recursive: true });
  const port = await freePort();
  // The credentials lib/storage/object-store.ts signs with against a local endpoint (as for s3rver).
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const proc = startProcess('versitygw', binary, ['--region', opts.region, '--quiet', '--port', `127.0.0.1:${port}`, 'posix', '--versioning-dir', versions, root], {
    env: { ...process.env, ROOT_ACCESS_KEY: credentials.accessKeyId, ROOT_SECRET_KEY: credentials.secretAccessKey },
  });
  try {
    await waitFor(`versitygw on port ${port}`, () => isPortOpen(port), 15_000);
    return { endpoint: `http://127.0.0.1:${port}`, region: opts.region, credentials, process: proc, stop: () => proc.stop(5_000) };
  } catch (err) {
    await proc.stop(2_000);
    throw err;
  }
}

if (require.main === module) {
  resolveVersityGw(console.log)
    .then((p) => console.log(p))
    .catch((err) => {
      console.error(err.message);
      process.exit(1);
    });
}
