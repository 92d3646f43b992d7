import { login, type LoginLimits } from '../../application/auth/login';
import type { WorkflowOutbox } from '../../temporal/workflow-outbox';
import { activateTenant, insertTenant } from '../../db/tenants';
import { PasswordHasher } from '../../lib/password-hash';
import { SecurityEventRecorder } from '../../application/security/security-event-recorder';
import { createLogger } from '../../lib/logger';
import { createTestDatabase, type TestDatabase } from '../harness/database';

/**
 * What a login costs, whatever the answer: exactly one argon2 verification for a wrong password,
 * an unknown login ID and an overlong password alike (the last two on the same dummy hash and
 * input, never on the overlong input), and none at all while the login ID is locked. Counted on
 * the hasher the use case gets, against a real database.
 */
class CountingHasher extends PasswordHasher {
  verified: number[] = [];
  override verify(hashed: string, password: string): Promise<boolean> {
    this.verified.push([...password].length);
    return super.verify(hashed, password);
  }
}

let t: TestDatabase;
let securityEvents: SecurityEventRecorder;
let slug: string;
const passwords = new CountingHasher({ concurrency: 2, queue: 10 });
const outbox = { dispatchCommitted: async () => ({ dispatched: 0, failed: 0, deferred: 0 }) } as unknown as WorkflowOutbox;
const security: LoginLimits = {
  loginFailuresPerIp: 1000,
  loginFailuresPerAccount: 1000,
  loginFailuresPerClinic: 1000,
  loginRateWindowSeconds: 600,
  loginIdKey: 'k'.repeat(32),
};
const actor = { audit: { actorType: 'anonymous' as const, clientIp: '192.0.2.1' } };
const OVERLONG = 'x'.repeat(2000);

beforeAll(async () => {
  t = await createTestDatabase();
  securityEvents = new SecurityEventRecorder({ db: t.db, log: createLogger({ level: 'silent' }) });
  slug = 'work-clinic';
  const tenant = await insertTenant(t.db, { slug, name: 'W', contractEmails: ['w@w.example'] });
  await activateTenant(t.db, tenant.id);
  await t.ownerDb('accounts').insert({
    tenant_id: tenant.id,
    login_id: 'hanako',
    email: 'hanako@w.example',
    display_name: 'Hanako',
    roles: ['staff'],
    password_hash: await passwords.hash('Right-password-2026!'),
    password_is_initial: false,
  });
});
afterAll(async () => {
  await t?.drop();
});

/** The verifications one login attempt ran (their inputs' lengths) and its answer. */
async function attempt(loginId: string, password: string, clinic = slug) {
  passwords.verified = [];
  const answer = await login({ db: t.db, outbox, passwords, security, securityEvents }, actor, { tenant: clinic, loginId, password, clientIp: '192.0.2.1' }).then(
    () => 200,
    (err: { status: number }) => err.status,
  );
  return { answer, verified: passwords.verified };
}

describe('the work a login does', () => {
  it('verifies once for a wrong password, an unknown login ID and an unknown clinic', async () => {
    const wrong = await attempt('hanako', 'Wrong-password-2026!');
    expect(wrong).toEqual({ answer: 401, verified: [20] });
    const dummy = [30]; // the dummy verification's fixed input
    expect(await attempt('nobody', 'Wrong-password-2026!')).toEqual({ answer: 401, verified: dummy });
    expect(await attempt('hanako', 'Wrong-password-2026!', 'no-such-clinic')).toEqual({ answer: 401, verified: dummy });
  });

  it('refuses an overlong password after the same dummy verification, for an existing and an unknown login ID', async () => {
    const existing = await attempt('hanako', OVERLONG);
    const unknown = await attempt('nobody-else', OVERLONG);
    expect(existing).toEqual({ answer: 401, verified: [30] });
    expect(unknown).toEqual(existing);
  });

  it('verifies nothing while the login ID is locked, even the right password', async () => {
    await t.ownerDb('accounts').where({ login_id: 'hanako' }).update({ locked_until: t.ownerDb.raw(`now() + interval '1 minute'`) });
    expect(await attempt('hanako', 'Right-password-2026!')).toEqual({ answer: 423, verified: [] });
    await t.ownerDb('accounts').where({ login_id: 'hanako' }).update({ locked_until: null, failed_login_count: 0 });
    expect(await attempt('hanako', 'Right-password-2026!')).toEqual({ answer: 200, verified: [20] });
  });
});
