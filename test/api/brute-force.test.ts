import { randomBytes } from 'node:crypto';
import { fetchLocalEmails } from '../../lib/local-ses';
import { accountLockoutWorkflowId } from '../../temporal/workflow-ids';
import type { accountLockoutWorkflow } from '../../workflows/account-lockout';
import { activate, clinicWithAdmin, createAccount, login, STRONG_PASSWORD, type Clinic } from '../harness/clinic';
import { call } from '../harness/http';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * Guessing passwords against the front door, as the penetration test did: in parallel, from
 * rotating addresses, against accounts that exist and login IDs that do not. X-Forwarded-For is
 * trusted from loopback so each request can speak from an address of its own.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({
    TRUSTED_PROXIES: '127.0.0.1/32,::1/128',
    LOGIN_FAILURES_PER_IP: '8',
    LOGIN_FAILURES_PER_ACCOUNT: '100',
    LOGIN_FAILURES_PER_CLINIC: '1000',
    LOGIN_RATE_WINDOW_SECONDS: '600',
    PASSWORD_HASH_QUEUE: '100',
  });
});
afterAll(async () => {
  await stack?.stop();
});

let nextIp = 1;
const freshIp = () => `198.51.100.${nextIp++}`;
const from = (ip: string) => ({ 'x-forwarded-for': ip });
const unique = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;
const statuses = (replies: Array<{ status: number }>) => replies.map((r) => r.status);
const mailsTo = async (address: string) => (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.destination.to.includes(address));

async function clinicWithUser() {
  const { clinic, token } = await clinicWithAdmin(stack);
  const loginId = unique('nurse');
  const user = await createAccount(stack, token, loginId);
  await activate(stack, clinic, loginId, user.initialPassword);
  return { clinic, token, loginId, accountId: user.accountId };
}

describe('lockout under concurrency', () => {
  it('counts 60 parallel wrong passwords exactly: the 5th locks, everything after is 423, one lockout, one mail each', async () => {
    const { clinic, loginId, accountId } = await clinicWithUser();
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => login(stack, clinic, loginId, `guess-${i}`, from(`203.0.113.${i + 1}`))));
    const count = (s: number) => replies.filter((r) => r.status === s).length;
    expect({ 401: count(401), 423: count(423) }).toEqual({ 401: 4, 423: 56 });
    for (const r of replies.filter((x) => x.status === 423)) expect(r.body.code).toBe('account_locked');

    const row = await stack.database.ownerDb('accounts').where({ id: accountId }).first();
    expect([row.failedLoginCount, row.lockouts]).toEqual([5, 1]);
    expect(row.lockedUntil.getTime()).toBeGreaterThan(Date.now());
    const log = await stack.database.ownerDb('audit_events').where({ target_id: accountId });
    expect(log.filter((e: { action: string }) => e.action === 'account.lockout')).toHaveLength(1);

    // The holder and the clinic's admin are told once, through the outbox-started workflow.
    const notice = stack.temporal.client.workflow.getHandle<typeof accountLockoutWorkflow>(accountLockoutWorkflowId(accountId, 1));
    expect(await notice.result()).toEqual({ accountId, lockout: 1, sent: 2, refused: 0, outcome: 'notified' });
    const holder = await mailsTo(`${loginId}@example.jp`);
    const admin = await mailsTo(`admin@${clinic.slug}.example`);
    expect(holder.map((m) => m.subject)).toEqual([expect.stringContaining('アカウントがロックされました / Your account was locked')]);
    expect(admin.filter((m) => m.subject.includes('An account was locked'))).toHaveLength(1);
    expect(holder[0]!.body.text).toContain(loginId);
    expect(holder[0]!.body.text).not.toContain('guess-');
  });
});

describe('a locked login ID tells nothing', () => {
  it('answers 423 to the right password too, and the same to a login ID that does not exist', async () => {
    const { clinic, loginId } = await clinicWithUser();
    const tryAll = async (id: string, last: string) => {
      const replies = [];
      for (let i = 0; i < 5; i += 1) replies.push(await login(stack, clinic, id, `wrong-${i}`, from(freshIp())));
      replies.push(await login(stack, clinic, id, last, from(freshIp())));
      return replies;
    };
    const existing = await tryAll(loginId, STRONG_PASSWORD);
    const missing = await tryAll(unique('nobody'), STRONG_PASSWORD);
    expect(statuses(existing)).toEqual([401, 401, 401, 401, 423, 423]);
    expect(statuses(missing)).toEqual(statuses(existing));
    for (const replies of [existing, missing]) {
      expect(replies.map((r) => r.body.code)).toEqual([...Array(4).fill('invalid_credentials'), 'account_locked', 'account_locked']);
      expect(Object.keys(replies[5]!.body).sort()).toEqual(Object.keys(existing[5]!.body).sort());
      expect(Date.parse(replies[5]!.body.lockedUntil)).toBeGreaterThan(Date.now());
    }
    // A clinic that does not exist locks the same way.
    const nowhere = { id: '', slug: unique('no-such-clinic') };
    const replies = [];
    for (let i = 0; i < 6; i += 1) replies.push(await login(stack, nowhere, 'admin', `wrong-${i}`, from(freshIp())));
    expect(statuses(replies)).toEqual(statuses(existing));
  });

  it('locks on wrong current passwords given to the password change, like failed logins', async () => {
    const { clinic, loginId, accountId } = await clinicWithUser();
    const session = (await login(stack, clinic, loginId, STRONG_PASSWORD, from(freshIp()))).body.token;
    const change = (currentPassword: string) => call(stack.url, 'POST', '/v1/auth/password', { token: session, json: { currentPassword, newPassword: 'Brand-new-pass-2026!' } });
    const replies = [];
    for (let i = 0; i < 5; i += 1) replies.push(await change(`wrong-${i}`));
    expect(replies.map((r) => r.body.code)).toEqual([...Array(4).fill('invalid_current_password'), 'account_locked']);
    expect((await change(STRONG_PASSWORD)).body.code).toBe('account_locked');
    expect((await login(stack, clinic, loginId, STRONG_PASSWORD, from(freshIp()))).status).toBe(423);
    const notice = stack.temporal.client.workflow.getHandle<typeof accountLockoutWorkflow>(accountLockoutWorkflowId(accountId, 1));
    expect((await notice.result()).sent).toBe(2);
  });
});

describe('per-address limits', () => {
  it('counts an IPv6 client by its /64, so rotating the low bits does not help', async () => {
    const { clinic } = await clinicWithAdmin(stack);
    for (let i = 1; i <= 8; i += 1) expect((await login(stack, clinic, `user${i}`, 'guess', from(`2001:db8:77:1::${i.toString(16)}`))).status).toBe(401);
    const sameNet = await login(stack, clinic, 'admin', STRONG_PASSWORD, from('2001:db8:77:1:ffff:ffff:ffff:fffe'));
    expect([sameNet.status, sameNet.body.code]).toEqual([429, 'rate_limited']);
    expect((await login(stack, clinic, 'admin', STRONG_PASSWORD, from('2001:db8:77:2::1'))).status).toBe(200);
  });

  it('counts refusals while locked against the address too, so hammering a locked login ID is throttled', async () => {
    const { clinic, loginId } = await clinicWithUser();
    for (let i = 0; i < 5; i += 1) await login(stack, clinic, loginId, `wrong-${i}`, from(freshIp()));
    const ip = freshIp();
    for (let i = 0; i < 8; i += 1) expect((await login(stack, clinic, loginId, `again-${i}`, from(ip))).status).toBe(423);
    expect((await login(stack, clinic, loginId, 'again', from(ip))).status).toBe(429);
  });
});

describe('per-clinic and per-login-ID limits (rotating addresses does not help)', () => {
  let throttled: TestStack;
  beforeAll(async () => {
    throttled = await startTestStack({
      TRUSTED_PROXIES: '127.0.0.1/32,::1/128',
      LOGIN_FAILURES_PER_ACCOUNT: '3',
      LOGIN_FAILURES_PER_CLINIC: '8',
      LOGIN_RATE_WINDOW_SECONDS: '600',
      // One argon2 computation at a time and none waiting: any overlap is refused.
      PASSWORD_HASH_CONCURRENCY: '1',
      PASSWORD_HASH_QUEUE: '0',
    });
  });
  afterAll(async () => {
    await throttled?.stop();
  });

  const expectLimited = (r: { status: number; body: { code: string }; headers: Headers }) => {
    expect([r.status, r.body.code]).toEqual([429, 'rate_limited']);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
  };

  it('limits failures per login ID of a clinic, existing or not, from any address', async () => {
    const { clinic } = await clinicWithAdmin(throttled);
    for (const id of ['admin', 'ghost']) {
      for (let i = 0; i < 3; i += 1) expect((await login(throttled, clinic, id, `wrong-${i}`, from(freshIp()))).status).toBe(401);
      expectLimited(await login(throttled, clinic, id, STRONG_PASSWORD, from(freshIp())));
    }
  });

  it('holds a burst sent at once to the limit: each attempt is counted before it runs', async () => {
    const { clinic } = await clinicWithAdmin(throttled);
    // Sent together they all passed the check before any was counted (40 parallel guesses, 40 answers).
    const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => login(throttled, clinic, 'admin', `burst-${i}`, from(freshIp()))));
    const statuses = replies.map((r) => r.status);
    // At most the limit of 3 is tried (this stack's hasher takes one at a time and queues none, so
    // some of the three may be refused by it instead: those are given back, not counted).
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(3);
    expect(statuses.filter((s) => s !== 401).every((s) => s === 429)).toBe(true);
    // One at a time, the limit is reached exactly.
    let tried = statuses.filter((s) => s === 401).length;
    while (tried < 3) {
      expect((await login(throttled, clinic, 'admin', `after-${tried}`, from(freshIp()))).status).toBe(401);
      tried += 1;
    }
    expectLimited(await login(throttled, clinic, 'admin', STRONG_PASSWORD, from(freshIp())));
  });

  it('answers 429 rate_limited when the password hasher\'s queue is full, instead of piling up', async () => {
    const { clinic } = await clinicWithAdmin(throttled);
    const replies = await Promise.all(Array.from({ length: 10 }, () => login(throttled, clinic, 'admin', STRONG_PASSWORD, from(freshIp()))));
    const limited = replies.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    for (const r of limited) expectLimited(r);
    expect(replies.filter((r) => r.status !== 429).map((r) => r.status)).toEqual(expect.arrayContaining([200]));
    expect(replies.every((r) => r.status === 200 || r.status === 429)).toBe(true);
  });

  it('limits failures per clinic across all login IDs and addresses', async () => {
    const { clinic }: { clinic: Clinic } = await clinicWithAdmin(throttled);
    for (let i = 0; i < 8; i += 1) expect((await login(throttled, clinic, `user${i}`, 'guess', from(freshIp()))).status).toBe(401);
    expectLimited(await login(throttled, clinic, 'admin', STRONG_PASSWORD, from(freshIp())));
    // Other clinics are not affected.
    const other = await clinicWithAdmin(throttled);
    expect((await login(throttled, other.clinic, 'admin', STRONG_PASSWORD, from(freshIp()))).status).toBe(200);
  });
});
