import { hashToken, MAX_LIVE_SESSIONS_PER_ACCOUNT } from '../../db/sessions';
import { fetchLocalEmails } from '../../lib/local-ses';
import { signInNoticeWorkflowId } from '../../temporal/workflow-ids';
import type { signInNoticeWorkflow } from '../../workflows/sign-in-notice';
import { SIGN_IN_NOTICES_PER_DAY } from '../../application/auth/sign-in-notice';
import { recordHistory } from '../harness/history';
import { createApiKey } from '../harness/operators';
import { softwarePasskey } from '../harness/passkey';
import { withTenant } from '../../db/tenant-scope';
import { call } from '../harness/http';
import { activate, clinicWithAdmin, createAccount, eventually, login, STRONG_PASSWORD } from '../harness/clinic';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * Authentication decides on what one query per request shows it — in full, or the clinic's
 * authentication generation proving a kept answer current (db/session-auth-cache.ts): a change
 * made anywhere — another API process, an operator's tool, the database itself — stops access on
 * the very next request. Changes below are made straight in the database (as another
 * process would) or through a second API process, never through the API under test.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ TRUSTED_PROXIES: '127.0.0.1/32,::1/128' });
});
afterAll(async () => {
  await stack?.stop();
});

const me = (token: string, headers?: Record<string, string>) => call(stack.url, 'GET', '/v1/me', { token, headers });
const owner = () => stack.database.ownerDb;

describe('a change made elsewhere takes effect on the next request', () => {
  it('a revoked session', async () => {
    const { token } = await clinicWithAdmin(stack);
    expect((await me(token)).status).toBe(200);
    await owner()('sessions').where({ token_hash: hashToken(token) }).update({ revoked_at: new Date() });
    expect((await me(token)).status).toBe(401);
  });

  it('a disabled or deleted account', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    const a = await createAccount(stack, token, 'nurse-a');
    const b = await createAccount(stack, token, 'nurse-b');
    const tokenA = await activate(stack, clinic, 'nurse-a', a.initialPassword);
    const tokenB = await activate(stack, clinic, 'nurse-b', b.initialPassword);
    expect((await me(tokenA)).status).toBe(200);
    expect((await me(tokenB)).status).toBe(200);
    // Straight in the database: the sessions themselves are left unrevoked.
    await owner()('accounts').where({ id: a.accountId }).update({ disabled: true });
    await owner()('accounts').where({ id: b.accountId }).update({ deleted_at: new Date() });
    expect((await me(tokenA)).status).toBe(401);
    expect((await me(tokenB)).status).toBe(401);
  });

  it('changed roles', async () => {
    const { token, adminId } = await clinicWithAdmin(stack);
    expect((await call(stack.url, 'GET', '/v1/accounts', { token })).status).toBe(200);
    await owner()('accounts').where({ id: adminId }).update({ roles: ['staff'] });
    const after = await call(stack.url, 'GET', '/v1/accounts', { token });
    expect([after.status, after.body.code]).toEqual([403, 'forbidden']);
    expect((await me(token)).body.roles).toEqual(['staff']);
  });

  it('the profile /v1/me shows (read by authentication itself)', async () => {
    const { clinic, token, adminId } = await clinicWithAdmin(stack);
    expect((await me(token)).body).toMatchObject({ accountId: adminId, passkeyCount: 0, clinic: { id: clinic.id } });
    await owner()('accounts').where({ id: adminId }).update({ display_name: '院長 佐藤', email: 'sato@example.jp' });
    await owner()('webauthn_credentials').insert({
      tenant_id: clinic.id, account_id: adminId, credential_id: `cred-${adminId}`, public_key: Buffer.from('00', 'hex'),
      device_type: 'singleDevice', backed_up: false, name: 'key',
    });
    expect((await me(token)).body).toMatchObject({ accountId: adminId, displayName: '院長 佐藤', email: 'sato@example.jp', passkeyCount: 1 });
  });

  it('a clinic suspended by an operator through another API process', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    expect((await me(token)).status).toBe(200);
    const other = await stack.startExtraApi({});
    const op = (status: string) => call(other.operatorUrl, 'PATCH', `/v1/operator/tenants/${clinic.id}`, { token: stack.operatorToken, json: { status } });
    expect((await op('suspended')).status).toBe(200);
    const refused = await me(token);
    expect([refused.status, refused.body.code]).toEqual([403, 'tenant_suspended']);
    // A token naming the clinic but holding no live session learns nothing, not even the suspension.
    const PREFIX = 'fcs_';
    const raw = Buffer.from(token.slice(PREFIX.length), 'base64url');
    raw[47] = raw[47]! ^ 0xff;
    const forged = await me(`${PREFIX}${raw.toString('base64url')}`);
    expect([forged.status, forged.body.code]).toEqual([401, 'unauthorized']);
    expect((await op('active')).status).toBe(200);
    expect((await me(token)).status).toBe(200);
    // And straight in the database.
    await owner()('tenants').where({ id: clinic.id }).update({ status: 'suspended' });
    expect((await me(token)).body.code).toBe('tenant_suspended');
  });

  it('a changed network allowlist', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    expect((await me(token, from('192.0.2.7'))).status).toBe(200);
    await owner()('tenant_settings')
      .insert({ tenant_id: clinic.id, network_allowlist: ['203.0.113.0/24'] })
      .onConflict('tenant_id')
      .merge(['network_allowlist']);
    const outside = await me(token, from('192.0.2.7'));
    expect([outside.status, outside.body.code]).toEqual([403, 'ip_not_allowed']);
    expect((await me(token, from('203.0.113.9'))).status).toBe(200);
    // Refusals are logged: one entry per session, source and minute, however many requests.
    for (let i = 0; i < 20; i += 1) expect((await me(token, from('192.0.2.7'))).status).toBe(403);
    const denied = await owner()('audit_events').where({ tenant_id: clinic.id, action: 'request.ip_denied' });
    expect(denied.length).toBeGreaterThanOrEqual(1);
    expect(denied.length).toBeLessThanOrEqual(2); // the minute may turn during the loop
    // A stranger without a live session is refused for the token first, and writes nothing.
    const forged = `${token.slice(0, -4)}AAAA`;
    for (let i = 0; i < 20; i += 1) expect((await me(forged, from('192.0.2.7'))).status).toBe(401);
    expect(await owner()('audit_events').where({ tenant_id: clinic.id, action: 'request.ip_denied' })).toHaveLength(denied.length);
  });
});

describe('idle expiry', () => {
  it('is extended at most once a minute per session, never past the absolute lifetime', async () => {
    const { token } = await clinicWithAdmin(stack);
    const row = () => owner()('sessions').where({ token_hash: hashToken(token) }).first();
    const start = await row();
    for (let i = 0; i < 3; i += 1) expect((await me(token)).status).toBe(200);
    expect((await row()).lastSeenAt).toEqual(start.lastSeenAt);

    // Seen two minutes ago, idle deadline in one minute: the next request extends it.
    const twoMinutesAgo = new Date(Date.now() - 120_000);
    await owner()('sessions').where({ id: start.id }).update({ last_seen_at: twoMinutesAgo, idle_expires_at: new Date(Date.now() + 60_000) });
    expect((await me(token)).status).toBe(200);
    const touched = await row();
    expect(touched.lastSeenAt.getTime()).toBeGreaterThan(twoMinutesAgo.getTime());
    expect(touched.idleExpiresAt.getTime()).toBeGreaterThan(Date.now() + 25 * 60_000);

    // Close to the absolute end: the idle deadline stops there.
    const soon = new Date(Date.now() + 90_000);
    await owner()('sessions').where({ id: start.id }).update({ last_seen_at: twoMinutesAgo, absolute_expires_at: soon });
    expect((await me(token)).status).toBe(200);
    expect((await row()).idleExpiresAt.getTime()).toBe(soon.getTime());
  });
});

describe('session_auth (the one query)', () => {
  it('refuses to run inside a transaction scoped to another clinic', async () => {
    const a = await clinicWithAdmin(stack);
    const b = await clinicWithAdmin(stack);
    await expect(
      withTenant(stack.database.db, a.clinic.id, (trx) => trx.raw('select * from session_auth(?::uuid, ?::bytea)', [b.clinic.id, hashToken(b.token)])),
    ).rejects.toThrow(/another clinic is in scope/);
    // Its own clinic's session, in the same kind of transaction, is found.
    const { rows } = await withTenant(stack.database.db, b.clinic.id, (trx) => trx.raw('select * from session_auth(?::uuid, ?::bytea)', [b.clinic.id, hashToken(b.token)]));
    expect(rows[0].account_id).toBe(b.adminId);
  });

  it('never finds a session of one clinic under another clinic\'s id', async () => {
    const a = await clinicWithAdmin(stack);
    const b = await clinicWithAdmin(stack);
    const { rows } = await stack.database.db.raw('select * from session_auth(?::uuid, ?::bytea)', [a.clinic.id, hashToken(b.token)]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ tenant_slug: a.clinic.slug, session_id: null, account_id: null });
  });
});

describe('sessions per account', () => {
  it(`keeps at most ${MAX_LIVE_SESSIONS_PER_ACCOUNT} live: a new login ends the oldest beyond them, and says so in its log entry`, async () => {
    const { clinic, token: first, adminId } = await clinicWithAdmin(stack);
    const tokens = [first];
    for (let i = 1; i <= MAX_LIVE_SESSIONS_PER_ACCOUNT; i += 1) {
      const reply = await login(stack, clinic, 'admin', STRONG_PASSWORD);
      expect(reply.status).toBe(200);
      tokens.push(reply.body.token as string);
    }
    // The first of the 21 ended; the newest 20 work.
    expect((await me(first)).status).toBe(401);
    for (const token of tokens.slice(1)) expect((await me(token)).status).toBe(200);
    const live = await owner()('sessions').where({ account_id: adminId }).whereNull('revoked_at').count<{ count: string }[]>('* as count');
    expect(Number(live[0]!.count)).toBe(MAX_LIVE_SESSIONS_PER_ACCOUNT);
    const entries = await owner()('audit_events').where({ tenant_id: clinic.id, action: 'login', outcome: 'success' }).orderBy('seq');
    expect(entries.at(-1).details).toMatchObject({ sessionsEnded: 1 });
    expect(entries.at(-2).details.sessionsEnded).toBeUndefined();
  });
});

describe('a client address with an IPv6 zone (a link-local peer, or a forwarded hop)', () => {
  it('is kept without it: logins, refusals and logouts answer as from anywhere, never a 500', async () => {
    const { clinic } = await clinicWithAdmin(stack);
    const zoned = { 'x-forwarded-for': 'fe80::1%eth0' };
    const wrong = await login(stack, clinic, 'admin', 'not the password', zoned);
    expect([wrong.status, wrong.body.code]).toEqual([401, 'invalid_credentials']);
    const failed = await owner()('audit_events').where({ tenant_id: clinic.id, action: 'login', outcome: 'failed' }).first();
    expect(failed.clientIp).toBe('fe80::1');
    const ok = await login(stack, clinic, 'admin', STRONG_PASSWORD, zoned);
    expect(ok.status).toBe(200);
    const listed = (await call(stack.url, 'GET', '/v1/auth/sessions', { token: ok.body.token, headers: zoned })).body.items as Array<{ current: boolean; clientIp: string }>;
    expect(listed.find((x) => x.current)!.clientIp).toBe('fe80::1');
    expect((await call(stack.url, 'POST', '/v1/auth/logout', { token: ok.body.token, headers: zoned })).status).toBe(204);
    expect((await me(ok.body.token)).status).toBe(401);
  });
});

describe('where one is signed in (ログイン中の端末)', () => {
  type Listed = { id: string; current: boolean; state: string; clientIp: string | null; userAgent: string | null; passkeyVerified: boolean; lastSeenAt: string; expiresAt: string };
  const device = (ip: string, agent: string) => ({ 'x-forwarded-for': ip, 'user-agent': agent });
  const sessions = async (token: string, path = '/v1/auth/sessions') => {
    const r = await call(stack.url, 'GET', path, { token });
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.text}`);
    return r.body.items as Listed[];
  };
  const logged = async (clinicId: string, actions: string[]) =>
    (await owner()('audit_events').where({ tenant_id: clinicId }).whereIn('action', actions).orderBy('seq')).map(
      (e: { action: string; actorId: string; targetId: string; details: Record<string, unknown> | null }) => [e.action, e.actorId, e.targetId, e.details],
    );

  it('lists one\'s live sessions, ends one of them, then every one but this', async () => {
    const { clinic, token: desk, adminId } = await clinicWithAdmin(stack);
    const phone = (await login(stack, clinic, 'admin', STRONG_PASSWORD, device('203.0.113.7', 'Phone/1.0'))).body.token as string;
    const tablet = (await login(stack, clinic, 'admin', STRONG_PASSWORD, device('198.51.100.9', 'Tablet/2.0'))).body.token as string;
    const items = await sessions(desk);
    expect(items).toHaveLength(3);
    expect(items.filter((s) => s.current)).toHaveLength(1);
    const byAgent = Object.fromEntries(items.map((s) => [s.userAgent, s]));
    expect(byAgent['Phone/1.0']).toMatchObject({ clientIp: '203.0.113.7', current: false, state: 'active', passkeyVerified: false });
    expect(byAgent['Tablet/2.0']).toMatchObject({ clientIp: '198.51.100.9', current: false });
    expect(Date.parse(byAgent['Phone/1.0']!.expiresAt)).toBeGreaterThan(Date.now());
    // Tokens are never shown, not even one's own.
    for (const token of [desk, phone, tablet]) expect(JSON.stringify(items)).not.toContain(token.slice(4, 30));

    // The phone's session ends: it stops working at once, the others go on.
    const phoneId = byAgent['Phone/1.0']!.id;
    expect((await call(stack.url, 'DELETE', `/v1/auth/sessions/${phoneId}`, { token: desk })).status).toBe(204);
    expect((await me(phone)).status).toBe(401);
    expect((await me(tablet)).status).toBe(200);
    // Ended already, unknown (or no id at all), or another account's: all the same 404, and the other account's session goes on.
    const nurse = await createAccount(stack, desk, 'nurse-s');
    const nurseToken = await activate(stack, clinic, 'nurse-s', nurse.initialPassword);
    const [nurseSession] = await sessions(nurseToken);
    for (const id of [phoneId, '00000000-0000-4000-8000-000000000000', nurseSession!.id, 'not-an-id']) {
      const r = await call(stack.url, 'DELETE', `/v1/auth/sessions/${id}`, { token: desk });
      expect([r.status, r.body.code]).toEqual([404, 'not_found']);
    }
    expect((await me(nurseToken)).status).toBe(200);

    // Sign out everywhere else, said in so many words: an empty id or a trailing slash ends nothing.
    for (const path of ['/v1/auth/sessions', '/v1/auth/sessions/', '/v1/auth/sessions?except=']) {
      const r = await call(stack.url, 'DELETE', path, { token: desk });
      expect([path, r.status, r.body.code]).toEqual([path, 400, 'validation_failed']);
    }
    expect((await me(tablet)).status).toBe(200);
    // The tablet ends, this session stays, and says so.
    const others = await call(stack.url, 'DELETE', '/v1/auth/sessions?except=current', { token: desk });
    expect([others.status, others.body]).toEqual([200, { ended: 1 }]);
    expect((await me(tablet)).status).toBe(401);
    expect((await sessions(desk)).map((s) => s.current)).toEqual([true]);

    // Ending this very session is a logout.
    const current = (await sessions(desk))[0]!.id;
    expect((await call(stack.url, 'DELETE', `/v1/auth/sessions/${current}`, { token: desk })).status).toBe(204);
    expect((await me(desk)).status).toBe(401);

    expect(await logged(clinic.id, ['session.end', 'session.end_others'])).toEqual([
      ['session.end', adminId, phoneId, { current: false }],
      ['session.end_others', adminId, adminId, { sessionsEnded: 1 }],
      ['session.end', adminId, current, { current: true }],
    ]);
  });

  it('ending other sessions follows the allowlist and suspension (a stolen token cannot sign its holder out everywhere), and works after the contract\'s end', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    const other = (await login(stack, clinic, 'admin', STRONG_PASSWORD, device('203.0.113.50', 'Other/0'))).body.token as string;
    await owner()('tenant_settings').insert({ tenant_id: clinic.id, network_allowlist: ['203.0.113.0/24'] }).onConflict('tenant_id').merge(['network_allowlist']);
    const outside = { 'x-forwarded-for': '192.0.2.7' };
    const inside = { 'x-forwarded-for': '203.0.113.9' };
    for (const [method, path] of [['GET', '/v1/auth/sessions'], ['DELETE', '/v1/auth/sessions?except=current']] as const) {
      const r = await call(stack.url, method, path, { token, headers: outside });
      expect([r.status, r.body.code]).toEqual([403, 'ip_not_allowed']);
    }
    const operator = (status: string) => call(stack.operatorUrl, 'PATCH', `/v1/operator/tenants/${clinic.id}`, { token: stack.operatorToken, json: { status } });
    expect((await operator('suspended')).status).toBe(200);
    expect((await call(stack.url, 'DELETE', '/v1/auth/sessions?except=current', { token, headers: inside })).body.code).toBe('tenant_suspended');
    expect((await operator('active')).status).toBe(200);
    expect((await me(other, inside)).status).toBe(200);
    // Read-only after the contract's end: other writes are refused, taking access away is not.
    await owner()('tenants').where({ id: clinic.id }).update({ contract_state: 'read_only', contract_ends_at: new Date(Date.now() - 1_000) });
    try {
      expect((await call(stack.url, 'POST', '/v1/groups', { token, headers: inside, json: { name: 'late' } })).body.code).toBe('contract_ended');
      const ended = await call(stack.url, 'DELETE', '/v1/auth/sessions?except=current', { token, headers: inside });
      expect([ended.status, ended.body]).toEqual([200, { ended: 1 }]);
      expect((await me(other, inside)).status).toBe(401);
    } finally {
      await owner()('tenants').where({ id: clinic.id }).update({ contract_state: 'active', contract_ends_at: null });
    }
  });

  it('answers each sign-in with the one before it (前回のログイン): when and from where, none the first time', async () => {
    const { clinic, token: admin } = await clinicWithAdmin(stack);
    const nurse = await createAccount(stack, admin, 'nurse-p');
    const first = await login(stack, clinic, 'nurse-p', nurse.initialPassword, device('203.0.113.21', 'Desk/1.0'));
    expect(first.body.previousSignIn).toBeNull();
    expect((await call(stack.url, 'POST', '/v1/auth/password', { token: first.body.token, json: { currentPassword: nurse.initialPassword, newPassword: STRONG_PASSWORD } })).status).toBe(204);
    const firstAt = (await owner()('sessions').where({ token_hash: hashToken(first.body.token) }).first()).createdAt as Date;
    const second = await login(stack, clinic, 'nurse-p', STRONG_PASSWORD, device('198.51.100.77', 'Phone/1.0'));
    expect(second.body.previousSignIn).toEqual({ at: firstAt.toISOString(), clientIp: '203.0.113.21' });
    const third = await login(stack, clinic, 'nurse-p', STRONG_PASSWORD, device('203.0.113.21', 'Desk/1.0'));
    expect(third.body.previousSignIn.clientIp).toBe('198.51.100.77');
    // With a passkey, the password alone learns nothing of it: the passkey step that completes the sign-in answers it.
    const passkey = softwarePasskey({ origin: stack.config.WEBAUTHN_ORIGINS[0]!, rpId: stack.config.WEBAUTHN_RP_ID });
    const options = await call(stack.url, 'POST', '/v1/auth/webauthn/registration/options', { token: third.body.token });
    expect((await call(stack.url, 'POST', '/v1/auth/webauthn/registration/verify', { token: third.body.token, json: { response: passkey.registrationResponse(options.body.challenge) } })).status).toBe(201);
    const passwordOnly = await login(stack, clinic, 'nurse-p', STRONG_PASSWORD, device('192.0.2.99', 'Elsewhere/1.0'));
    expect([passwordOnly.body.state, passwordOnly.body.previousSignIn]).toEqual(['second_factor_required', null]);
    const challenge = (await call(stack.url, 'POST', '/v1/auth/webauthn/authentication/options', { token: passwordOnly.body.token })).body.challenge as string;
    const verified = await call(stack.url, 'POST', '/v1/auth/webauthn/authentication/verify', { token: passwordOnly.body.token, json: { response: passkey.authenticationResponse(challenge) } });
    expect([verified.body.state, verified.body.previousSignIn?.clientIp]).toEqual(['active', '203.0.113.21']);
  });

  it('lets an admin see where an account is signed in and sign it out everywhere, naming the admin in the log', async () => {
    const { clinic, token: admin, adminId } = await clinicWithAdmin(stack);
    const nurse = await createAccount(stack, admin, 'nurse-t');
    const nurseDesk = await activate(stack, clinic, 'nurse-t', nurse.initialPassword);
    const nursePhone = (await login(stack, clinic, 'nurse-t', STRONG_PASSWORD, device('203.0.113.70', 'Phone/3.0'))).body.token as string;
    const path = `/v1/accounts/${nurse.accountId}/sessions`;
    const listed = await sessions(admin, path);
    expect(listed).toHaveLength(2);
    expect(listed.map((s) => s.current)).toEqual([false, false]);
    expect(listed.find((s) => s.userAgent === 'Phone/3.0')).toMatchObject({ clientIp: '203.0.113.70' });
    // Admins only; an account of another clinic is as absent as none.
    expect((await call(stack.url, 'GET', path, { token: nurseDesk })).status).toBe(403);
    expect((await call(stack.url, 'DELETE', path, { token: nurseDesk })).status).toBe(403);
    const other = await clinicWithAdmin(stack, 'other');
    expect((await call(stack.url, 'GET', `/v1/accounts/${other.adminId}/sessions`, { token: admin })).status).toBe(404);
    expect((await call(stack.url, 'DELETE', `/v1/accounts/${other.adminId}/sessions`, { token: admin })).status).toBe(404);
    expect((await me(other.token)).status).toBe(200);

    const ended = await call(stack.url, 'DELETE', path, { token: admin });
    expect([ended.status, ended.body]).toEqual([200, { ended: 2 }]);
    expect((await me(nurseDesk)).status).toBe(401);
    expect((await me(nursePhone)).status).toBe(401);
    // Not disabled: the nurse signs in again.
    expect((await login(stack, clinic, 'nurse-t', STRONG_PASSWORD)).body.state).toBe('active');
    // One's own account: every session but the one asking.
    const adminPhone = (await login(stack, clinic, 'admin', STRONG_PASSWORD)).body.token as string;
    expect((await call(stack.url, 'DELETE', `/v1/accounts/${adminId}/sessions`, { token: admin })).body).toEqual({ ended: 1 });
    expect((await me(adminPhone)).status).toBe(401);
    expect((await me(admin)).status).toBe(200);

    expect(await logged(clinic.id, ['account.sessions_read', 'account.sessions_end'])).toEqual([
      ['account.sessions_read', adminId, nurse.accountId, {}],
      ['account.sessions_end', adminId, nurse.accountId, { sessionsEnded: 2 }],
      ['account.sessions_end', adminId, adminId, { sessionsEnded: 1 }],
    ]);
  });
});

describe('a sign-in from somewhere new (新しい端末からのログイン)', () => {
  const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
  // A client writes its own user agent: the mail must not quote it.
  const CRAFTED = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Version/18.0 Safari/604.1 URGENT call 0120-000-000 https://evil.example/reset';
  const from = (ip: string, agent: string) => ({ 'x-forwarded-for': ip, 'user-agent': agent });
  const noticesTo = async (address: string) =>
    (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.destination.to.includes(address) && m.subject.includes('A sign-in from a new device'));
  const sessionOf = async (token: string, headers: Record<string, string>) =>
    ((await call(stack.url, 'GET', '/v1/auth/sessions', { token, headers })).body.items as Array<{ id: string; current: boolean }>).find((x) => x.current)!.id;
  const settled = (sessionId: string) => stack.temporal.client.workflow.getHandle<typeof signInNoticeWorkflow>(signInNoticeWorkflowId(sessionId));
  // The login answers before its outbox row is sent (background dispatch): wait for the start, then the result.
  const outcomeOf = async (sessionId: string) => {
    await eventually(`the notice of ${sessionId} started`, async () => settled(sessionId).describe().then(() => true, () => false));
    return settled(sessionId).result();
  };

  it('mails the holder once, with the time, address and a browser from a fixed list; not for the first sign-in, nor again from the same browser and network', async () => {
    const { clinic, token: admin } = await clinicWithAdmin(stack);
    const nurse = await createAccount(stack, admin, 'nurse-n');
    const address = ((await call(stack.url, 'GET', `/v1/accounts/${nurse.accountId}`, { token: admin })).body.email) as string;
    // The first sign-in (initial password, then the holder's own) mails nobody.
    const first = await login(stack, clinic, 'nurse-n', nurse.initialPassword, from('203.0.113.10', CHROME_WINDOWS));
    expect((await call(stack.url, 'POST', '/v1/auth/password', { token: first.body.token, headers: from('203.0.113.10', CHROME_WINDOWS), json: { currentPassword: nurse.initialPassword, newPassword: STRONG_PASSWORD } })).status).toBe(204);
    // Again from the same browser, updated since, on a neighbouring address of the same network: nothing.
    const again = await login(stack, clinic, 'nurse-n', STRONG_PASSWORD, from('203.0.113.99', CHROME_WINDOWS.replace('Chrome/131', 'Chrome/132')));
    expect(again.body.state).toBe('active');
    // From a phone elsewhere: a notice.
    const phone = await login(stack, clinic, 'nurse-n', STRONG_PASSWORD, from('198.51.100.23', CRAFTED));
    const phoneSession = await sessionOf(phone.body.token, from('198.51.100.23', CRAFTED));
    const handle = settled(phoneSession);
    expect(await outcomeOf(phoneSession)).toEqual({ accountId: nurse.accountId, sessionId: phoneSession, outcome: 'sent' });
    const [mail, ...more] = await noticesTo(address);
    expect(more).toEqual([]);
    expect(mail!.body.text).toContain('198.51.100.23');
    expect(mail!.body.text).toContain('Safari on iOS');
    expect(mail!.body.text).toContain('nurse-n');
    for (const quoted of ['0120', 'evil.example', 'URGENT', 'Mozilla']) expect(mail!.body.text).not.toContain(quoted);
    // The history holds ids only: no address, no browser.
    const history = JSON.stringify(await handle.fetchHistory());
    for (const personal of ['198.51.100.23', 'iPhone', address]) expect(history).not.toContain(personal);
    await recordHistory(handle, 'sign-in-notice');
    // The same phone and network again: nothing more. The earlier sign-ins had no notice workflow.
    expect((await login(stack, clinic, 'nurse-n', STRONG_PASSWORD, from('198.51.100.40', CRAFTED))).status).toBe(200);
    for (const token of [first.body.token, again.body.token]) {
      const id = await sessionOf(token, from('203.0.113.10', CHROME_WINDOWS)).catch(() => undefined);
      if (id) await expect(settled(id).describe()).rejects.toThrow();
    }
    const logins = await owner()('audit_events').where({ tenant_id: clinic.id, action: 'login', outcome: 'success', actor_id: nurse.accountId }).orderBy('seq');
    expect(logins.map((e: { details: { newDevice?: boolean } }) => e.details.newDevice ?? false)).toEqual([false, false, true, false]);
    expect(await noticesTo(address)).toHaveLength(1);
    // The holder sees which session it was.
    const listed = (await call(stack.url, 'GET', '/v1/auth/sessions', { token: phone.body.token, headers: from('198.51.100.23', CRAFTED) })).body.items as Array<{ id: string; newDevice: boolean }>;
    expect(listed.filter((x) => x.newDevice).map((x) => x.id)).toEqual([phoneSession]);
  });

  it(`mails at most ${SIGN_IN_NOTICES_PER_DAY} a day per account: a password holder cannot flood its holder's mailbox with made-up browsers`, async () => {
    const { clinic, token: admin } = await clinicWithAdmin(stack);
    const nurse = await createAccount(stack, admin, 'nurse-f');
    const address = ((await call(stack.url, 'GET', `/v1/accounts/${nurse.accountId}`, { token: admin })).body.email) as string;
    await activate(stack, clinic, 'nurse-f', nurse.initialPassword);
    const sessions: string[] = [];
    // One network, a made-up browser each time: every one of them is new.
    for (let i = 0; i < SIGN_IN_NOTICES_PER_DAY + 3; i += 1) {
      const headers = from(`192.0.2.${i + 1}`, `Browser-${i}/1.0`);
      const r = await login(stack, clinic, 'nurse-f', STRONG_PASSWORD, headers);
      expect(r.status).toBe(200);
      sessions.push(await sessionOf(r.body.token, headers));
    }
    for (const id of sessions.slice(0, SIGN_IN_NOTICES_PER_DAY)) expect((await outcomeOf(id)).outcome).toBe('sent');
    for (const id of sessions.slice(SIGN_IN_NOTICES_PER_DAY)) await expect(settled(id).describe()).rejects.toThrow();
    expect(await noticesTo(address)).toHaveLength(SIGN_IN_NOTICES_PER_DAY);
    const logins = await owner()('audit_events').where({ tenant_id: clinic.id, action: 'login', outcome: 'success', actor_id: nurse.accountId }).orderBy('seq');
    expect(logins.slice(-sessions.length).map((e: { details: { noticeSuppressed?: boolean } }) => e.details.noticeSuppressed ?? false)).toEqual(
      sessions.map((_, i) => i >= SIGN_IN_NOTICES_PER_DAY),
    );
  });
});

describe('an operator signs every account of a clinic out (incident response)', () => {
  it('ends every live session, also while the clinic is suspended (a suspension only pauses them), naming the operator in the clinic\'s log', async () => {
    const { clinic, token: admin } = await clinicWithAdmin(stack);
    const nurse = await createAccount(stack, admin, 'nurse-o');
    const nurseToken = await activate(stack, clinic, 'nurse-o', nurse.initialPassword);
    const other = await clinicWithAdmin(stack, 'bystander');
    const operator = (method: string, path: string, token = stack.operatorToken, json?: unknown) => call(stack.operatorUrl, method, path, { token, json });
    expect((await operator('PATCH', `/v1/operator/tenants/${clinic.id}`, stack.operatorToken, { status: 'suspended' })).status).toBe(200);
    // People only, and only the security role.
    const key = await createApiKey(stack, ['security']);
    const byKey = await operator('DELETE', `/v1/operator/tenants/${clinic.id}/sessions`, key.key);
    expect([byKey.status, byKey.body.code]).toEqual([403, 'operator_session_required']);
    const viewer = await createApiKey(stack, ['viewer']);
    expect((await operator('DELETE', `/v1/operator/tenants/${clinic.id}/sessions`, viewer.key)).body.code).toBe('operator_role_required');
    expect((await operator('DELETE', '/v1/operator/tenants/00000000-0000-4000-8000-000000000000/sessions')).status).toBe(404);

    const ended = await operator('DELETE', `/v1/operator/tenants/${clinic.id}/sessions`);
    expect([ended.status, ended.body]).toEqual([200, { ended: 2 }]);
    expect((await operator('PATCH', `/v1/operator/tenants/${clinic.id}`, stack.operatorToken, { status: 'active' })).status).toBe(200);
    for (const token of [admin, nurseToken]) expect((await me(token)).status).toBe(401);
    // Another clinic is untouched, and nobody is locked out.
    expect((await me(other.token)).status).toBe(200);
    expect((await login(stack, clinic, 'nurse-o', STRONG_PASSWORD)).body.state).toBe('active');
    const [entry] = await owner()('audit_events').where({ tenant_id: clinic.id, action: 'sessions.end_all' });
    expect(entry).toMatchObject({ outcome: 'success', actorType: 'operator', targetId: clinic.id, details: { sessionsEnded: 2 } });
  });
});
