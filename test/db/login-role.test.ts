import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, chmod, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { embeddedLogin } from '../../db/embedded-postgres';
import { loginOf, loginProblems, PrivilegedLoginError, provisionLoginRole, withLogin } from '../../db/roles';
import { createTestDatabase, type TestDatabase } from '../harness/database';

/**
 * The checks that keep the application's login least-privileged (db/roles.ts), seen from the
 * owner's side: each way a login could escape row-level security or rewrite the operation log
 * is named, and provisioning refuses such a login instead of granting it anything.
 */
let t: TestDatabase;
const suffix = randomBytes(3).toString('hex');
const shady = `forclinic_test_shady_${suffix}`;
const tableOwner = `forclinic_test_owner_${suffix}`;
const fresh = `forclinic_test_fresh_${suffix}`;

async function asOwner<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: t.ownerUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
  // Roles are cluster-wide; their privileges went with the database.
  const server = new Client({ connectionString: process.env.TEST_PG_SERVER_URL });
  await server.connect();
  try {
    await server.query(`drop role if exists ${shady}, ${tableOwner}, ${fresh}`);
  } finally {
    await server.end();
  }
});

describe('the least-privilege check', () => {
  it('names each way out: an attribute, a role it can become that owns a table, privileges RLS does not govern', async () => {
    await t.ownerDb.raw(`
      create role ${tableOwner} nologin;
      create role ${shady} login createdb;
      grant forclinic_app to ${shady};
      grant ${tableOwner} to ${shady};
      create table scratch (id int);
      alter table scratch owner to ${tableOwner};
      grant truncate on accounts to ${shady};
      grant update on audit_events to ${shady};
    `);
    const problems = await asOwner((c) => loginProblems(c, shady));
    expect(problems).toContain('has CREATEDB');
    expect(problems).toContain(`can become "${tableOwner}", which owns table scratch`);
    expect(problems).toContainEqual(expect.stringMatching(/^may use .*TRUNCATE on accounts.*UPDATE on audit_events/));
    await expect(provisionLoginRole(t.ownerUrl, { user: shady })).rejects.toThrow(PrivilegedLoginError);
  });

  it('finds nothing wrong with the login the harness provisioned', async () => {
    expect(await asOwner((c) => loginProblems(c, loginOf(t.url).user))).toEqual([]);
  });

  it('refuses to provision the owner itself as the application login', async () => {
    await expect(provisionLoginRole(t.ownerUrl, loginOf(t.ownerUrl))).rejects.toThrow(/both log in as/);
  });

  it('provisions a new login that can log in, owns nothing, and (PostgreSQL 16+) cannot even SET ROLE forclinic_app', async () => {
    const login = { user: fresh, password: randomBytes(16).toString('hex') };
    await provisionLoginRole(t.ownerUrl, login);
    await provisionLoginRole(t.ownerUrl, login); // again: nothing to do, nothing fails
    const app = new Client({ connectionString: withLogin(t.ownerUrl, login) });
    await app.connect();
    try {
      expect(await loginProblems(app)).toEqual([]);
      const version = Number((await app.query(`select current_setting('server_version_num') as v`)).rows[0].v);
      if (version >= 160000) await expect(app.query('set role forclinic_app')).rejects.toThrow(/permission denied/);
    } finally {
      await app.end();
    }
  });
});

describe('start-up', () => {
  const root = path.join(__dirname, '..', '..');
  const start = (entry: string, databaseUrl: string) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const env = { PATH: process.env.PATH, HOME: process.env.HOME, OPERATOR_TOKEN: 'a'.repeat(64), DATABASE_URL: databaseUrl, PORT: '0', OPERATOR_PORT: '0', TEMPORAL_ADDRESS: '127.0.0.1:1', LOG_LEVEL: 'silent' };
      const child = execFile(process.execPath, ['--import', 'tsx', path.join(root, entry)], { cwd: root, env, timeout: 80_000 }, (_err, _stdout, stderr) =>
        resolve({ code: child.exitCode, stderr }),
      );
    });

  it.each(['api/server.ts', 'workers/main.ts'])("%s exits with 1 and says why when DATABASE_URL is the owner's", async (entry) => {
    const { code, stderr } = await start(entry, t.ownerUrl);
    expect(code).toBe(1);
    expect(stderr).toMatch(/DATABASE_URL logs in as "[^"]+", which the API and the workers must not use:\n {2}- is a superuser/);
  }, 90_000);
});

describe("the embedded server's login password", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'for-clinic-login-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is generated once, kept readable by its owner only, and reused', async () => {
    const first = await embeddedLogin(dir);
    expect(first.user).toBe('forclinic_login');
    expect(first.password).toMatch(/^[0-9a-f]{64}$/);
    const file = path.join(dir, 'secrets', 'forclinic_login.password');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    await chmod(file, 0o644);
    expect(await embeddedLogin(dir)).toEqual(first);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readFile(file, 'utf8')).trim()).toBe(first.password);
  });

  it('refuses a file that does not hold a generated password', async () => {
    await writeFile(path.join(dir, 'secrets', 'forclinic_login.password'), 'postgres\n');
    await expect(embeddedLogin(dir)).rejects.toThrow(/forclinic_login.password does not hold a generated secret: delete it/);
  });
});
