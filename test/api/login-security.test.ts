import { fetchLocalEmails } from '../../lib/local-ses';
import { accountLockoutWorkflowId } from '../../temporal/workflow-ids';
import { hashToken } from '../../db/sessions';
import { call } from '../harness/http';
import { activate, clinicWithAdmin, createAccount, login, STRONG_PASSWORD } from '../harness/clinic';
import { recordHistory } from '../harness/history';
import { softwarePasskey } from '../harness/passkey';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * Attacks on the front door. X-Forwarded-For is trusted from loopback here so each test can
 * speak from an address of its own (rate limits and allowlists are per address).
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ TRUSTED_PROXIES: '127.0.0.1/32,::1/128', LOGIN_FAILURES_PER_IP: '8', LOGIN_RATE_WINDOW_SECONDS: '600' });
});
afterAll(async () => {
  await stack?.stop();
});

/** The results of the clinic's access notices of one kind (operator actions that opened a way in), once each has run. */
const accessNotices = async (tenantId: string, change: string) => {
  const rows = await stack.database.ownerDb('workflow_outbox').where({ tenant_id: tenantId, workflow_type: 'clinicAccessNoticeWorkflow' }).orderBy('seq');
  const ofKind = rows.filter((r: { args: Array<{ change: string }> }) => r.args[0]!.change === change);
  return Promise.all(ofKind.map((r: { workflowId: string }) => stack.resultOf(r.workflowId)));
};

let nextIp = 1;
const freshIp = () => `198.51.100.${nextIp++}`;
const from = (ip: string) => ({ 'x-forwarded-for': ip });

describe('login failures', () => {
  it('answers the same 401 invalid_credentials for a wrong password, an unknown user and an unknown clinic', async () => {
    const { clinic } = await clinicWithAdmin(stack);
    const ip = freshIp();
    const replies = [
      await login(stack, clinic, 'admin', 'wrong-password', from(ip)),
      await login(stack, clinic, 'nobody', STRONG_PASSWORD, from(ip)),
      await login(stack, { id: '', slug: 'no-such-clinic' }, 'admin', STRONG_PASSWORD, from(ip)),
    ];
    for (const r of replies) {
      expect(r.status).toBe(401);
      expect(r.body.code).toBe('invalid_credentials');
      expect(r.body.detail).toBe(replies[0]!.body.detail);
    }
  });

  it('locks an account at the 5th failure: then every attempt, right password or not, gets 423 until an admin unlocks', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    const user = await createAccount(stack, token, 'clerk');
    await activate(stack, clinic, 'clerk', user.initialPassword);
    const ip = freshIp();
    for (let i = 0; i < 4; i += 1) expect((await login(stack, clinic, 'clerk', `wrong-${i}`, from(ip))).status).toBe(401);
    const fifth = await login(stack, clinic, 'clerk', 'wrong-4', from(freshIp()));
    expect([fifth.status, fifth.body.code]).toEqual([423, 'account_locked']);
    const right = await login(stack, clinic, 'clerk', STRONG_PASSWORD, from(freshIp()));
    const wrong = await login(stack, clinic, 'clerk', 'wrong-again', from(freshIp()));
    for (const locked of [right, wrong]) {
      expect([locked.status, locked.body.code]).toEqual([423, 'account_locked']);
      expect(locked.body.lockedUntil).toBe(fifth.body.lockedUntil);
    }
    expect(Date.parse(fifth.body.lockedUntil)).toBeGreaterThan(Date.now());

    const view = await call(stack.url, 'GET', `/v1/accounts/${user.accountId}`, { token });
    expect(view.body.locked).toBe(true);
    expect((await call(stack.url, 'POST', `/v1/accounts/${user.accountId}/unlock`, { token })).status).toBe(204);
    const ok = await login(stack, clinic, 'clerk', STRONG_PASSWORD, from(freshIp()));
    expect([ok.status, ok.body.state]).toEqual([200, 'active']);

    const log = await stack.database.ownerDb('audit_events').where({ target_id: user.accountId }).orderBy('id');
    const actions = log.map((e: { action: string; outcome: string }) => `${e.action}:${e.outcome}`);
    expect(actions.filter((a: string) => a === 'login:failed')).toHaveLength(5);
    expect(actions.filter((a: string) => a === 'account.lockout:success')).toHaveLength(1);
    expect(actions.filter((a: string) => a === 'login:denied')).toHaveLength(2);
    expect(actions).toContain('account.unlock:success');
    expect(JSON.stringify(log)).not.toContain('wrong-');
  });

  it('answers a disabled account the same whether the password is right or wrong: both count toward its lockout', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    const attempts = async (loginId: string, password: (i: number) => string) => {
      const user = await createAccount(stack, token, loginId);
      await activate(stack, clinic, loginId, user.initialPassword);
      expect((await call(stack.url, 'PATCH', `/v1/accounts/${user.accountId}`, { token, json: { disabled: true } })).status).toBe(200);
      const statuses: number[] = [];
      for (let i = 0; i < 6; i += 1) statuses.push((await login(stack, clinic, loginId, password(i), from(freshIp()))).status);
      return { statuses, accountId: user.accountId };
    };
    const right = await attempts('departed-right', () => STRONG_PASSWORD);
    const wrong = await attempts('departed-wrong', (i) => `wrong-${i}`);
    expect(right.statuses).toEqual([401, 401, 401, 401, 423, 423]);
    expect(right.statuses).toEqual(wrong.statuses);
    // The lockout is told to the admins only: the holder has left, and nobody may mail them through us.
    expect(await stack.resultOf(accountLockoutWorkflowId(right.accountId, 1))).toEqual({ accountId: right.accountId, lockout: 1, sent: 1, refused: 0, outcome: 'notified' });
    expect((await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.destination.to.includes('departed-right@example.jp'))).toEqual([]);
  });

  it('rate-limits many failed logins from one address across many accounts (429 rate_limited)', async () => {
    const { clinic } = await clinicWithAdmin(stack);
    const ip = freshIp();
    for (let i = 0; i < 8; i += 1) {
      expect((await login(stack, clinic, `user${i}`, 'guess', from(ip))).status).toBe(401);
    }
    const limited = await login(stack, clinic, 'admin', STRONG_PASSWORD, from(ip));
    expect([limited.status, limited.body.code]).toEqual([429, 'rate_limited']);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another address (the real admin at the clinic) is not affected.
    expect((await login(stack, clinic, 'admin', STRONG_PASSWORD, from(freshIp()))).status).toBe(200);
  });

  it('survives absurd input without a 500', async () => {
    const { clinic } = await clinicWithAdmin(stack);
    const ip = freshIp();
    const huge = await call(stack.url, 'POST', '/v1/auth/login', { raw: JSON.stringify({ tenant: clinic.slug, loginId: 'admin', password: 'x'.repeat(10 * 1024 * 1024) }), headers: from(ip) });
    expect([huge.status, huge.body.code]).toEqual([413, 'payload_too_large']);
    const long = await login(stack, clinic, 'admin', 'x'.repeat(4000), from(ip));
    expect(long.status).toBe(401);
    const tooLong = await login(stack, clinic, 'admin', 'x'.repeat(5000), from(ip));
    expect([tooLong.status, tooLong.body.code]).toEqual([400, 'validation_failed']);
    const nul = await login(stack, clinic, '\u0000admin', STRONG_PASSWORD, from(freshIp()));
    expect([nul.status, nul.body.code, nul.body.errors[0].field]).toEqual([400, 'validation_failed', 'loginId']);
    for (const loginId of ["admin' --", 'admin"; drop table accounts; --', '%', 'ａｄｍｉｎ\u200b']) {
      const r = await login(stack, clinic, loginId, STRONG_PASSWORD, from(freshIp()));
      expect([loginId, r.status]).toEqual([loginId, 401]);
    }
    // NFKC: full-width ASCII is the same login ID.
    expect((await login(stack, clinic, 'ＡＤＭＩＮ', STRONG_PASSWORD, from(freshIp()))).status).toBe(200);
    const missing = await call(stack.url, 'POST', '/v1/auth/login', { json: { tenant: clinic.slug }, headers: from(ip) });
    expect(missing.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['loginId', 'password']);
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    const other = await startTestStack();
    try {
      const { clinic } = await clinicWithAdmin(other);
      const r = await call(other.url, 'PUT', '/v1/settings/network-allowlist', {
        token: (await login(other, clinic, 'admin', STRONG_PASSWORD)).body.token,
        json: { cidrs: ['203.0.113.0/24'], confirmSelfLockout: true },
      });
      expect(r.status).toBe(200);
      const spoofed = await login(other, clinic, 'admin', STRONG_PASSWORD, { 'x-forwarded-for': '203.0.113.9' });
      expect([spoofed.status, spoofed.body.code]).toEqual([403, 'ip_not_allowed']);
    } finally {
      await other.stop();
    }
  });
});

describe('password policy', () => {
  it('has the MHLW defaults and validates changes', async () => {
    const { token } = await clinicWithAdmin(stack);
    const policy = await call(stack.url, 'GET', '/v1/settings/password-policy', { token });
    expect(policy.body).toMatchObject({ minLength: 13, requireLetters: true, requireDigits: true, requireSymbols: true, historyCount: 5, secondFactor: 'none' });
    expect(policy.body.lockout).toEqual({ maxFailures: 5, waitIncrementSeconds: 60, maxWaitSeconds: 900, failureResetSeconds: 43200 });

    const tooShort = await call(stack.url, 'PUT', '/v1/settings/password-policy', { token, json: { minLength: 8 } });
    expect([tooShort.status, tooShort.body.errors[0].field]).toEqual([400, 'minLength']);
    const ok = await call(stack.url, 'PUT', '/v1/settings/password-policy', { token, json: { minLength: 8, secondFactor: 'everyone' } });
    expect(ok.status).toBe(200);
    const unknown = await call(stack.url, 'PUT', '/v1/settings/password-policy', { token, json: { minLength: 'long' , bogus: 1 } });
    expect(unknown.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['bogus', 'minLength']);
  });

  it('refuses a reused password from the history', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    const first = STRONG_PASSWORD;
    const second = 'Second-pass-2026!';
    expect((await call(stack.url, 'POST', '/v1/auth/password', { token, json: { currentPassword: first, newPassword: second } })).status).toBe(204);
    const back = await call(stack.url, 'POST', '/v1/auth/password', { token, json: { currentPassword: second, newPassword: first } });
    expect([back.status, back.body.code, back.body.errors[0].rule]).toEqual([400, 'password_policy', 'reused']);
    const same = await call(stack.url, 'POST', '/v1/auth/password', { token, json: { currentPassword: second, newPassword: second } });
    expect(same.body.errors[0].rule).toBe('reused');
    expect((await login(stack, clinic, 'admin', second)).status).toBe(200);
  });

  it('a stricter two-step rule ends the open password-only sessions it now covers, except the saving admin\'s own', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    const second = await createAccount(stack, token, 'admin2', ['admin']);
    const admin2 = await activate(stack, clinic, 'admin2', second.initialPassword);
    const deskAccount = await createAccount(stack, token, 'desk');
    const desk = await activate(stack, clinic, 'desk', deskAccount.initialPassword);
    const me = async (t: string) => (await call(stack.url, 'GET', '/v1/me', { token: t })).status;
    const policy = (json: Record<string, unknown>) => call(stack.url, 'PUT', '/v1/settings/password-policy', { token, json });

    expect((await policy({ secondFactor: 'admins' })).status).toBe(200);
    expect([await me(token), await me(admin2), await me(desk)]).toEqual([200, 401, 200]);
    expect((await policy({ secondFactor: 'everyone', minLength: 13 })).status).toBe(200);
    expect([await me(token), await me(desk)]).toEqual([200, 401]);
    // Signing in again follows the rule: enrol a passkey first.
    expect((await login(stack, clinic, 'desk', STRONG_PASSWORD)).body.state).toBe('second_factor_enrollment_required');
    // Loosening it ends nothing.
    const again = (await login(stack, clinic, 'desk', STRONG_PASSWORD)).body.token as string;
    expect((await policy({ secondFactor: 'none' })).status).toBe(200);
    // (The desk's new session still waits for its passkey, 403, but it was not ended, 401.)
    expect([await me(token), await me(again)]).toEqual([200, 403]);
    const entries = await stack.database.ownerDb('audit_events').where({ tenant_id: clinic.id, action: 'settings.password_policy' }).orderBy('seq');
    expect(entries.map((e: { details: { sessionsEnded: number } }) => e.details.sessionsEnded)).toEqual([1, 1, 0]);
  });

  it('a stricter two-step rule keeps the sessions that presented a passkey still registered', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    const passkeyUser = async (loginId: string) => {
      const account = await createAccount(stack, token, loginId);
      const passwordOnly = await activate(stack, clinic, loginId, account.initialPassword);
      const passkey = softwarePasskey({ origin: stack.config.WEBAUTHN_ORIGINS[0]!, rpId: stack.config.WEBAUTHN_RP_ID });
      const options = await call(stack.url, 'POST', '/v1/auth/webauthn/registration/options', { token: passwordOnly });
      const registered = await call(stack.url, 'POST', '/v1/auth/webauthn/registration/verify', { token: passwordOnly, json: { response: passkey.registrationResponse(options.body.challenge) } });
      expect(registered.status).toBe(201);
      // With a passkey, signing in takes it as the second step: the session it gives presented one.
      const first = await login(stack, clinic, loginId, STRONG_PASSWORD);
      expect(first.body.state).toBe('second_factor_required');
      const challenge = (await call(stack.url, 'POST', '/v1/auth/webauthn/authentication/options', { token: first.body.token })).body.challenge as string;
      const verified = await call(stack.url, 'POST', '/v1/auth/webauthn/authentication/verify', { token: first.body.token, json: { response: passkey.authenticationResponse(challenge) } });
      expect(verified.status).toBe(200);
      return { passwordOnly, withPasskey: verified.body.token as string, passkeyId: registered.body.id as string };
    };
    const desk = await passkeyUser('desk-pk');
    const nurse = await passkeyUser('nurse-pk');
    const clerk = await passkeyUser('clerk-pk');
    // The nurse removes her passkey while the rule allows it: her session has nothing left to show.
    expect((await call(stack.url, 'DELETE', `/v1/auth/webauthn/credentials/${nurse.passkeyId}`, { token: nurse.withPasskey })).status).toBe(204);
    // The clerk adds a second passkey, then removes the one his session presented: the other never vouched for it.
    const another = softwarePasskey({ origin: stack.config.WEBAUTHN_ORIGINS[0]!, rpId: stack.config.WEBAUTHN_RP_ID });
    const options = await call(stack.url, 'POST', '/v1/auth/webauthn/registration/options', { token: clerk.withPasskey });
    expect((await call(stack.url, 'POST', '/v1/auth/webauthn/registration/verify', { token: clerk.withPasskey, json: { response: another.registrationResponse(options.body.challenge) } })).status).toBe(201);
    expect((await call(stack.url, 'DELETE', `/v1/auth/webauthn/credentials/${clerk.passkeyId}`, { token: clerk.withPasskey })).status).toBe(204);
    const me = async (t: string) => (await call(stack.url, 'GET', '/v1/me', { token: t })).status;
    expect([await me(desk.passwordOnly), await me(desk.withPasskey), await me(nurse.passwordOnly), await me(nurse.withPasskey), await me(clerk.withPasskey)]).toEqual([200, 200, 200, 200, 200]);

    expect((await call(stack.url, 'PUT', '/v1/settings/password-policy', { token, json: { secondFactor: 'everyone', minLength: 13 } })).status).toBe(200);
    expect([await me(token), await me(desk.passwordOnly), await me(desk.withPasskey), await me(nurse.passwordOnly), await me(nurse.withPasskey), await me(clerk.passwordOnly), await me(clerk.withPasskey)]).toEqual([200, 401, 200, 401, 401, 401, 401]);
    const [entry] = await stack.database.ownerDb('audit_events').where({ tenant_id: clinic.id, action: 'settings.password_policy' });
    expect(entry.details.sessionsEnded).toBe(5);
  });

  it('an account promoted to admin while the rule covers admins loses its password-only sessions at once', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    expect((await call(stack.url, 'PUT', '/v1/settings/password-policy', { token, json: { secondFactor: 'admins' } })).status).toBe(200);
    const account = await createAccount(stack, token, 'desk-promoted');
    const session = await activate(stack, clinic, 'desk-promoted', account.initialPassword);
    const me = async () => (await call(stack.url, 'GET', '/v1/me', { token: session })).status;
    // Another role the rule does not cover changes nothing.
    expect((await call(stack.url, 'PATCH', `/v1/accounts/${account.accountId}`, { token, json: { roles: ['staff', 'doctor'] } })).status).toBe(200);
    expect(await me()).toBe(200);
    expect((await call(stack.url, 'PATCH', `/v1/accounts/${account.accountId}`, { token, json: { roles: ['staff', 'admin'] } })).status).toBe(200);
    expect(await me()).toBe(401);
    expect((await login(stack, clinic, 'desk-promoted', STRONG_PASSWORD)).body.state).toBe('second_factor_enrollment_required');
    const entries = await stack.database.ownerDb('audit_events').where({ tenant_id: clinic.id, action: 'account.roles_change', target_id: account.accountId }).orderBy('seq');
    expect(entries.map((e: { details: { sessionsEnded?: number } }) => e.details.sessionsEnded ?? null)).toEqual([null, 1]);
  });

  it('an initial password that expired while its session was open no longer changes the password: 400 initial_password_expired', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    const nurse = await createAccount(stack, token, 'nurse');
    const first = await login(stack, clinic, 'nurse', nurse.initialPassword);
    expect(first.body.state).toBe('password_change_required');
    // It expires now (the test's clock: the stored deadline moved back).
    await stack.database.ownerDb('accounts').where({ id: nurse.accountId }).update({ initial_password_expires_at: new Date(Date.now() - 1_000) });
    const late = await call(stack.url, 'POST', '/v1/auth/password', { token: first.body.token, json: { currentPassword: nurse.initialPassword, newPassword: 'Nurse-pass-2026!' } });
    expect([late.status, late.body.code]).toEqual([400, 'initial_password_expired']);
    expect((await login(stack, clinic, 'nurse', 'Nurse-pass-2026!')).status).toBe(401);
    const denied = await stack.database.ownerDb('audit_events').where({ tenant_id: clinic.id, action: 'password.change', outcome: 'denied' });
    expect(denied.map((e: { details: { reason: string } }) => e.details.reason)).toEqual(['initial_password_expired']);
  });

  it('an administrator\'s reset does not let the user choose the password it replaced (it joins the history)', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    const desk = await createAccount(stack, token, 'desk');
    await activate(stack, clinic, 'desk', desk.initialPassword);
    const reset = await call(stack.url, 'POST', `/v1/accounts/${desk.accountId}/reset-password`, { token });
    expect(reset.status).toBe(200);
    const first = await login(stack, clinic, 'desk', reset.body.initialPassword);
    expect(first.body.state).toBe('password_change_required');
    const back = await call(stack.url, 'POST', '/v1/auth/password', { token: first.body.token, json: { currentPassword: reset.body.initialPassword, newPassword: STRONG_PASSWORD } });
    expect([back.status, back.body.code, back.body.errors?.[0]?.rule]).toEqual([400, 'password_policy', 'reused']);
    expect((await call(stack.url, 'POST', '/v1/auth/password', { token: first.body.token, json: { currentPassword: reset.body.initialPassword, newPassword: 'Another-pass-2026!' } })).status).toBe(204);
  });

  it('forces a password change when the password is older than maxAgeSeconds', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    await call(stack.url, 'PUT', '/v1/settings/password-policy', { token, json: { maxAgeSeconds: 1 } });
    await stack.database.ownerDb('accounts').update({ password_changed_at: new Date(Date.now() - 5_000) });
    const r = await login(stack, clinic, 'admin', STRONG_PASSWORD);
    expect(r.body.state).toBe('password_change_required');
  });

  it('asks for the passkey before a password change that is due: the password alone cannot change it and lock the holder out', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    const account = await createAccount(stack, token, 'doc-aged');
    const session = await activate(stack, clinic, 'doc-aged', account.initialPassword);
    const passkey = softwarePasskey({ origin: stack.config.WEBAUTHN_ORIGINS[0]!, rpId: stack.config.WEBAUTHN_RP_ID });
    const options = await call(stack.url, 'POST', '/v1/auth/webauthn/registration/options', { token: session });
    expect((await call(stack.url, 'POST', '/v1/auth/webauthn/registration/verify', { token: session, json: { response: passkey.registrationResponse(options.body.challenge) } })).status).toBe(201);
    expect((await call(stack.url, 'PUT', '/v1/settings/password-policy', { token, json: { maxAgeSeconds: 60 } })).status).toBe(200);
    await stack.database.ownerDb('accounts').where({ id: account.accountId }).update({ password_changed_at: new Date(Date.now() - 120_000) });

    // Someone with only the password: the passkey comes first, and the password route is closed to them.
    const attacker = await login(stack, clinic, 'doc-aged', STRONG_PASSWORD);
    expect(attacker.body.state).toBe('second_factor_required');
    const change = (t: string, newPassword: string) => call(stack.url, 'POST', '/v1/auth/password', { token: t, json: { currentPassword: STRONG_PASSWORD, newPassword } });
    expect([(await change(attacker.body.token, 'Attacker-2026-pass!')).status]).toEqual([403]);
    expect((await call(stack.url, 'GET', '/v1/me', { token: session })).status).toBe(200);

    // The holder presents the passkey, is then asked for the new password, and is done.
    const challenge = (await call(stack.url, 'POST', '/v1/auth/webauthn/authentication/options', { token: attacker.body.token })).body.challenge as string;
    const verified = await call(stack.url, 'POST', '/v1/auth/webauthn/authentication/verify', { token: attacker.body.token, json: { response: passkey.authenticationResponse(challenge) } });
    expect([verified.status, verified.body.state]).toEqual([200, 'password_change_required']);
    expect((await call(stack.url, 'GET', '/v1/me', { token: verified.body.token })).status).toBe(403);
    expect((await change(verified.body.token, 'Renewed-2026-clinic!')).status).toBe(204);
    const me = await call(stack.url, 'GET', '/v1/me', { token: verified.body.token });
    expect([me.status, me.body.state ?? 'active']).toEqual([200, 'active']);
  });

  it('ends sessions idle longer than the policy allows', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    await call(stack.url, 'PUT', '/v1/settings/password-policy', { token, json: { session: { idleTimeoutSeconds: 60, absoluteLifetimeSeconds: 3600 } } });
    const fresh = (await login(stack, clinic, 'admin', STRONG_PASSWORD)).body.token;
    expect((await call(stack.url, 'GET', '/v1/me', { token: fresh })).status).toBe(200);
    // Age the session as if 61 idle seconds had passed.
    await stack.database.ownerDb('sessions').update({ idle_expires_at: new Date(Date.now() - 1000) });
    expect((await call(stack.url, 'GET', '/v1/me', { token: fresh })).status).toBe(401);
  });

  it('keeps a session in use alive under the shortest timeout, a minute', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    expect((await call(stack.url, 'PUT', '/v1/settings/password-policy', { token, json: { session: { idleTimeoutSeconds: 60, absoluteLifetimeSeconds: 3600 } } })).status).toBe(200);
    const fresh = (await login(stack, clinic, 'admin', STRONG_PASSWORD)).body.token;
    // Last used 3 s ago with 5 s left: a request now must push the deadline to 60 s from now
    // (it used to wait for a full minute since the last extension, and the session died in use).
    const sessions = () => stack.database.ownerDb('sessions').where({ tenant_id: clinic.id }).whereNull('revoked_at');
    await sessions().update({ last_seen_at: new Date(Date.now() - 3_000), idle_expires_at: new Date(Date.now() + 5_000) });
    const before = Date.now();
    expect((await call(stack.url, 'GET', '/v1/me', { token: fresh })).status).toBe(200);
    const [row] = await sessions().orderBy('last_seen_at', 'desc');
    expect(row.idleExpiresAt.getTime()).toBeGreaterThanOrEqual(before + 59_000);
  });

  it('refuses session timeouts that would lock the whole clinic out (under a minute idle, a quarter of an hour in all)', async () => {
    const { token } = await clinicWithAdmin(stack);
    const save = async (session: unknown) => {
      const reply = await call(stack.url, 'PUT', '/v1/settings/password-policy', { token, json: { session } });
      return [reply.status, reply.body.errors?.[0]?.field];
    };
    expect(await save({ idleTimeoutSeconds: 1, absoluteLifetimeSeconds: 3600 })).toEqual([400, 'session.idleTimeoutSeconds']);
    expect(await save({ idleTimeoutSeconds: 60, absoluteLifetimeSeconds: 60 })).toEqual([400, 'session.absoluteLifetimeSeconds']);
    expect(await save({ idleTimeoutSeconds: 60, absoluteLifetimeSeconds: 900 })).toEqual([200, undefined]);
    expect((await call(stack.url, 'GET', '/v1/me', { token })).status).toBe(200);
  });

  it('applies a shorter timeout to the sessions already open, never ending one in use', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    const other = (await login(stack, clinic, 'admin', STRONG_PASSWORD)).body.token;
    const row = () => stack.database.ownerDb('sessions').where({ token_hash: hashToken(other) }).first();
    // Used a moment ago, though its last extension is 50 s old (written at most once a minute).
    await stack.database.ownerDb('sessions').where({ token_hash: hashToken(other) }).update({ last_seen_at: new Date(Date.now() - 50_000) });
    const before = Date.now();
    const saved = await call(stack.url, 'PUT', '/v1/settings/password-policy', { token, json: { session: { idleTimeoutSeconds: 60, absoluteLifetimeSeconds: 3600 } } });
    expect(saved.status).toBe(200);
    // From 30 minutes to 60 s from now: shortened at once, and still valid.
    const { idleExpiresAt, absoluteExpiresAt } = await row();
    expect(idleExpiresAt.getTime()).toBeGreaterThanOrEqual(before + 59_000);
    expect(idleExpiresAt.getTime()).toBeLessThanOrEqual(Date.now() + 61_000);
    expect(absoluteExpiresAt.getTime()).toBeLessThanOrEqual(Date.now() + 3_601_000);
    expect((await call(stack.url, 'GET', '/v1/me', { token: other })).status).toBe(200);
  });

  it('logs out: the token stops working', async () => {
    const { clinic } = await clinicWithAdmin(stack);
    const t = (await login(stack, clinic, 'admin', STRONG_PASSWORD)).body.token;
    expect((await call(stack.url, 'POST', '/v1/auth/logout', { token: t })).status).toBe(204);
    expect((await call(stack.url, 'GET', '/v1/me', { token: t })).status).toBe(401);
  });
});

describe('passkey registration', () => {
  it('stores only the transports WebAuthn defines, whatever shape the client sent (a string was a 500)', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    const register = async (loginId: string, transports: unknown) => {
      const account = await createAccount(stack, token, loginId);
      const session = await activate(stack, clinic, loginId, account.initialPassword);
      const passkey = softwarePasskey({ origin: stack.config.WEBAUTHN_ORIGINS[0]!, rpId: stack.config.WEBAUTHN_RP_ID });
      const options = await call(stack.url, 'POST', '/v1/auth/webauthn/registration/options', { token: session });
      const response = passkey.registrationResponse(options.body.challenge);
      const registered = await call(stack.url, 'POST', '/v1/auth/webauthn/registration/verify', { token: session, json: { response: { ...response, response: { ...response.response, transports } } } });
      expect([loginId, registered.status]).toEqual([loginId, 201]);
      // What later sign-ins are told about the credential.
      const first = await login(stack, clinic, loginId, STRONG_PASSWORD);
      const auth = await call(stack.url, 'POST', '/v1/auth/webauthn/authentication/options', { token: first.body.token });
      return auth.body.allowCredentials[0].transports;
    };
    expect(await register('pk-string', 'internal')).toEqual([]);
    expect(await register('pk-junk', [{}, null, 'x'.repeat(100_000), 'usb', 'usb', 'hybrid', 7])).toEqual(['usb', 'hybrid']);
  });
});

describe('operators opening a way into a clinic', () => {
  it('an administrator made by an operator is told to the clinic\'s contract address and its other administrators, once each', async () => {
    const { clinic } = await clinicWithAdmin(stack);
    // The first administrator's creation was told to the contract address (there was nobody else).
    expect(await accessNotices(clinic.id, 'admin_created')).toEqual([{ sent: 1, refused: 0, outcome: 'notified' }]);
    const second = await call(stack.operatorUrl, 'POST', `/v1/operator/tenants/${clinic.id}/admins`, {
      token: stack.operatorToken,
      json: { loginId: 'second-admin', email: `second-admin@${clinic.slug}.example`, displayName: 'Second Admin' },
    });
    expect(second.status).toBe(201);
    expect(await accessNotices(clinic.id, 'admin_created')).toEqual([
      { sent: 1, refused: 0, outcome: 'notified' },
      { sent: 2, refused: 0, outcome: 'notified' },
    ]);
    const [, notice] = await stack.database.ownerDb('workflow_outbox').where({ tenant_id: clinic.id, workflow_type: 'clinicAccessNoticeWorkflow' }).orderBy('seq');
    await recordHistory(stack.temporal.client.workflow.getHandle(notice.workflowId), 'clinic-access-notice-admin-created');
    const told = (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.body.text?.includes('"second-admin"'));
    expect(told.map((m) => m.destination.to[0]).sort()).toEqual([`admin@${clinic.slug}.example`, `contract@${clinic.slug}.example`]);
    expect(told[0]!.subject).toContain('An administrator account was created');
    // Nothing about the operator but where to find them, and never the initial password.
    expect(told[0]!.body.text).not.toContain(second.body.initialPassword);
  });
});

describe('an admin removing another account\'s passkeys', () => {
  it('frees a holder who lost their authenticator: passkeys gone, sessions ended, a new one enrolled at the next sign-in', async () => {
    const { clinic, token, adminId } = await clinicWithAdmin(stack);
    const account = await createAccount(stack, token, 'lost-key');
    const session = await activate(stack, clinic, 'lost-key', account.initialPassword);
    const passkey = softwarePasskey({ origin: stack.config.WEBAUTHN_ORIGINS[0]!, rpId: stack.config.WEBAUTHN_RP_ID });
    const options = await call(stack.url, 'POST', '/v1/auth/webauthn/registration/options', { token: session });
    expect((await call(stack.url, 'POST', '/v1/auth/webauthn/registration/verify', { token: session, json: { response: passkey.registrationResponse(options.body.challenge) } })).status).toBe(201);
    expect((await call(stack.url, 'PUT', '/v1/settings/password-policy', { token, json: { secondFactor: 'everyone', minLength: 13 } })).status).toBe(200);
    // Without the passkey the holder cannot get past the second step.
    expect((await login(stack, clinic, 'lost-key', STRONG_PASSWORD)).body.state).toBe('second_factor_required');
    const remove = (id: string) => call(stack.url, 'DELETE', `/v1/accounts/${id}/passkeys`, { token });

    // Only with a fresh proof, and never one's own through this route.
    await stack.database.ownerDb('sessions').where({ account_id: adminId }).update({ verified_at: new Date(Date.now() - 600_000) });
    expect([(await remove(account.accountId)).body.code]).toEqual(['reauthentication_required']);
    expect((await call(stack.url, 'POST', '/v1/auth/reauthenticate', { token, json: { password: STRONG_PASSWORD } })).status).toBe(204);
    expect([(await remove(adminId)).status, (await remove(adminId)).body.code]).toEqual([409, 'own_account']);

    // A sign-in left at its second step until it expired is not a session the removal ends (nor counts).
    expect((await login(stack, clinic, 'lost-key', STRONG_PASSWORD)).body.state).toBe('second_factor_required');
    const latest = stack.database.ownerDb('sessions').select('id').where({ account_id: account.accountId }).orderBy('created_at', 'desc').limit(1);
    await stack.database.ownerDb('sessions').whereIn('id', latest).update({ idle_expires_at: new Date(Date.now() - 1000) });

    const removed = await remove(account.accountId);
    expect([removed.status, removed.body]).toEqual([200, { removed: 1 }]);
    expect((await call(stack.url, 'GET', '/v1/me', { token: session })).status).toBe(401);
    expect((await login(stack, clinic, 'lost-key', STRONG_PASSWORD)).body.state).toBe('second_factor_enrollment_required');
    const [entry] = await stack.database.ownerDb('audit_events').where({ tenant_id: clinic.id, action: 'account.passkeys_remove', outcome: 'success' });
    expect(entry).toMatchObject({ actorId: adminId, targetId: account.accountId, details: { passkeysRemoved: [expect.any(String)], sessionsEnded: 1 } });
  });
});

describe('network allowlist', () => {
  it('validates CIDRs, protects the admin from locking themselves out, and then enforces the list', async () => {
    const { clinic, token, adminId } = await clinicWithAdmin(stack);
    const office = '203.0.113.0/24';
    const adminIp = '203.0.113.10';
    const as = (ip: string) => ({ token, headers: from(ip) });

    const bad = await call(stack.url, 'PUT', '/v1/settings/network-allowlist', { ...as(adminIp), json: { cidrs: ['203.0.113.0/33', '10.0.0.1/8', 'example.com', '2001:db8::/32'] } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toEqual(['cidrs.0', 'cidrs.1', 'cidrs.2']);

    const selfLockout = await call(stack.url, 'PUT', '/v1/settings/network-allowlist', { ...as('192.0.2.7'), json: { cidrs: [office] } });
    expect([selfLockout.status, selfLockout.body.code]).toEqual([409, 'would_lock_out_self']);

    const saved = await call(stack.url, 'PUT', '/v1/settings/network-allowlist', { ...as(adminIp), json: { cidrs: [office, '2001:DB8::/32'] } });
    expect(saved.body).toEqual({ cidrs: [office, '2001:db8::/32'], yourAddress: adminIp });

    expect((await call(stack.url, 'GET', '/v1/me', as(adminIp))).status).toBe(200);
    expect((await call(stack.url, 'GET', '/v1/me', as('2001:db8::1'))).status).toBe(200);
    const outside = await call(stack.url, 'GET', '/v1/me', as('192.0.2.7'));
    expect([outside.status, outside.body.code]).toEqual([403, 'ip_not_allowed']);
    // The refusal of a live session names its account in the clinic's log.
    const [denied] = await stack.database.ownerDb('audit_events').where({ tenant_id: clinic.id, action: 'request.ip_denied' }).orderBy('seq', 'desc').limit(1);
    expect(denied).toMatchObject({ actorType: 'account', actorId: adminId, outcome: 'denied' });
    const loginOutside = await login(stack, clinic, 'admin', STRONG_PASSWORD, from('192.0.2.7'));
    expect([loginOutside.status, loginOutside.body.code]).toEqual([403, 'ip_not_allowed']);
    expect((await login(stack, clinic, 'admin', STRONG_PASSWORD, from('203.0.113.200'))).status).toBe(200);
    // IPv4-mapped IPv6 counts as IPv4.
    expect((await call(stack.url, 'GET', '/v1/me', as('::ffff:203.0.113.5'))).status).toBe(200);

    const confirmed = await call(stack.url, 'PUT', '/v1/settings/network-allowlist', { ...as(adminIp), json: { cidrs: ['198.18.0.0/15'], confirmSelfLockout: true } });
    expect(confirmed.status).toBe(200);
    expect((await call(stack.url, 'GET', '/v1/me', as(adminIp))).body.code).toBe('ip_not_allowed');

    // Logging out is never refused, even from outside the list: it only takes access away.
    const elsewhere = (await login(stack, clinic, 'admin', STRONG_PASSWORD, from('198.18.0.1'))).body.token as string;
    expect((await call(stack.url, 'POST', '/v1/auth/logout', { token: elsewhere, headers: from('192.0.2.7') })).status).toBe(204);
    expect((await call(stack.url, 'GET', '/v1/me', { token: elsewhere, headers: from('198.18.0.1') })).status).toBe(401);

    // The way back: an operator clears the list, and the clinic's own log names who did.
    const cleared = await call(stack.operatorUrl, 'DELETE', `/v1/operator/tenants/${clinic.id}/network-allowlist`, { token: stack.operatorToken });
    expect([cleared.status, cleared.body]).toEqual([200, { cidrs: [] }]);
    expect((await call(stack.url, 'GET', '/v1/me', as(adminIp))).status).toBe(200);
    const [entry] = await stack.database.ownerDb('audit_events').where({ tenant_id: clinic.id, action: 'settings.network_allowlist', outcome: 'success' }).orderBy('seq', 'desc').limit(1);
    expect(entry).toMatchObject({ actorType: 'operator', actorId: 'break-glass', details: { before: ['198.18.0.0/15'], after: [], clearedByOperator: true, actorName: 'break-glass' } });
    // And the clinic is told by mail: its contract address and its administrator, once each.
    expect(await accessNotices(clinic.id, 'allowlist_cleared')).toEqual([{ sent: 2, refused: 0, outcome: 'notified' }]);
    for (const to of [`contract@${clinic.slug}.example`, `admin@${clinic.slug}.example`]) {
      const told = (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.destination.to.includes(to) && m.subject.includes('The network allowlist was cleared'));
      expect([to, told.length]).toEqual([to, 1]);
      expect(told[0]!.body.text).toContain('操作ログ');
    }
    const unknown = await call(stack.operatorUrl, 'DELETE', '/v1/operator/tenants/00000000-0000-4000-8000-000000000000/network-allowlist', { token: stack.operatorToken });
    expect(unknown.status).toBe(404);
  });
});
