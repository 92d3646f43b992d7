import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { createLoginRole, dropLoginRole } from '../../db/roles';
import { provisionBackupRoles } from '../../db/backup-roles';
import { provisionPurgeLogin } from '../../db/purge-role';
import { startServices } from '../../scripts/services';
import { startLocalKms } from '../../lib/local-kms';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver');
const TEST_BUCKET = 'for-clinic-test';

/**
 * Starts the real infrastructure once per `npm test`: PostgreSQL, an in-memory Temporal dev
 * server and a local SES. PostgreSQL is the server at MIGRATION_DATABASE_URL or DATABASE_URL
 * when set (a user that may create databases and roles, e.g. postgres://postgres@127.0.0.1:5432/postgres
 * in CI), else an embedded one. That user is the owner: it migrates each test file's own database
 * (test/harness/database.ts). The applications run as a login role made for this run, with a
 * generated password, which owns nothing; it is dropped at the end.
 */
export default async function globalSetup(): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'for-clinic-test-'));
  const log = (m: string) => process.stderr.write(`[test-setup] ${m}\n`);
  const serverUrl = process.env.MIGRATION_DATABASE_URL || process.env.DATABASE_URL || undefined;
  // The owner's credential never reaches the API and worker processes tests start.
  delete process.env.MIGRATION_DATABASE_URL;
  const services = await startServices({
    dataDir,
    databaseUrl: serverUrl,
    // Free ports, and others if one is taken before the server binds it.
    embeddedPgPort: 'auto',
    temporalAddress: undefined,
    temporalPort: 'auto',
    temporalUiPort: 0,
    persist: false,
    sesEndpoint: undefined,
    realSes: false,
    mailPort: 0, // the OS picks the port (no race)
    log,
  });
  const login = { user: `forclinic_test_login_${randomBytes(4).toString('hex')}`, password: randomBytes(24).toString('hex') };
  const admin = new Client({ connectionString: services.serverUrl });
  await admin.connect();
  try {
    await createLoginRole(admin, login);
  } finally {
    await admin.end();
  }
  // The backup's read-only role and the restore test's CREATEDB role, as `npm start` makes them.
  const backupLogin = { user: `forclinic_test_backup_${randomBytes(4).toString('hex')}`, password: randomBytes(24).toString('hex') };
  const restoreLogin = { user: `forclinic_test_restore_${randomBytes(4).toString('hex')}`, password: randomBytes(24).toString('hex') };
  await provisionBackupRoles(services.serverUrl, { backup: backupLogin, restoreTest: restoreLogin });
  // The contract-end purge's login: a member of forclinic_purge (made here if no migration has made it yet).
  const purgeLogin = { user: `forclinic_test_purge_${randomBytes(4).toString('hex')}`, password: randomBytes(24).toString('hex') };
  await provisionPurgeLogin(services.serverUrl, purgeLogin, { createGroup: true });
  // The real KMS API (local-kms), for the encryption layer's `kms` provider.
  const kms = await startLocalKms({ dataDir: path.join(dataDir, 'kms'), region: 'ap-northeast-1', logFile: path.join(dataDir, 'local-kms.log'), log }).catch(async (err) => {
    await services.stop();
    throw err;
  });
  // A real S3-compatible server (s3rver) for the S3 object store, on a port the OS picks.
  const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: path.join(dataDir, 's3'), configureBuckets: [{ name: TEST_BUCKET, configs: [] }] });
  const { port: s3Port } = (await s3.run().catch(async (err: unknown) => {
    await kms.stop();
    await services.stop();
    throw err;
  })) as { port: number };
  (globalThis as { __services?: typeof services }).__services = {
    ...services,
    stop: async () => {
      await s3.close();
      await kms.stop();
      for (const user of [login.user, backupLogin.user, restoreLogin.user, purgeLogin.user]) {
        await dropLoginRole(services.serverUrl, user).catch((err) => log(`could not drop ${user}: ${(err as Error).message}`));
      }
      await services.stop();
    },
  };
  process.env.TEST_S3_ENDPOINT = `http://127.0.0.1:${s3Port}`;
  process.env.TEST_S3_BUCKET = TEST_BUCKET;
  process.env.TEST_KMS_ENDPOINT = kms.endpoint;
  // Inherited by the test worker processes that jest forks after this.
  process.env.TEST_PG_SERVER_URL = services.serverUrl;
  process.env.TEST_PG_LOGIN_USER = login.user;
  process.env.TEST_PG_LOGIN_PASSWORD = login.password;
  process.env.TEST_PG_BACKUP_URL_LOGIN = JSON.stringify(backupLogin);
  process.env.TEST_PG_RESTORE_URL_LOGIN = JSON.stringify(restoreLogin);
  process.env.TEST_PG_PURGE_LOGIN = JSON.stringify(purgeLogin);
  process.env.TEST_TEMPORAL_ADDRESS = services.temporalAddress;
  process.env.TEST_SES_ENDPOINT = services.sesEndpoint;
  process.env.TEST_DATA_DIR = dataDir;
}
