import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
import { onFreePort } from '../../lib/process';
import { call } from '../harness/http';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * An operator's sign-in in a real browser (README: Operators): bootstrapped on the host with
 * `npm run operator`, first login with the one-time password, password change, passkey enrolment
 * in Chromium with a virtual CTAP2 authenticator (DevTools Protocol), logout, and the everyday
 * login: password, then passkey, then a platform-admin route. The page is the API's reference
 * page (it loads @simplewebauthn/browser); the ceremonies run from it against the operator routes,
 * with navigator.credentials exactly as Chromium implements it.
 */
interface AssertionJSON {
  id: string;
  response: { clientDataJSON: string; authenticatorData: string; signature: string; userHandle?: string };
  [k: string]: unknown;
}
/** What the page's scripts run with (evaluated in Chromium, not here). */
declare const document: { getElementById(id: string): { textContent: string | null } | null };
declare const SimpleWebAuthnBrowser: {
  startRegistration(opts: { optionsJSON: unknown }): Promise<unknown>;
  startAuthentication(opts: { optionsJSON: unknown }): Promise<AssertionJSON>;
};

const CHROMIUM =
  process.env.CHROMIUM_PATH ??
  ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p)) ??
  '/usr/bin/chromium';
const ROOT = path.join(__dirname, '..', '..');
const EMAIL = 'sato.hanako@forclinic.example';
const PASSWORD = 'Operator-2026-keys!';

let stack: TestStack;
let origin: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let cdp: CDPSession;
let authenticatorId: string;
let operatorId: string;
let initialPassword: string;

beforeAll(async () => {
  // The operators' relying party is "localhost" and the only allowed origin the page's own.
  // The page is served on the operator listener too, whose origin the operators' passkeys are bound to.
  stack = await onFreePort('API', (p) =>
    startTestStack({ OPERATOR_PORT: String(p), OPERATOR_WEBAUTHN_RP_ID: 'localhost', OPERATOR_WEBAUTHN_ORIGINS: `http://localhost:${p}` }, { worker: false }),
  );
  origin = `http://localhost:${stack.config.OPERATOR_PORT}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context = await browser.newContext();
  page = await context.newPage();
  page.setDefaultTimeout(20_000);
  cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  ({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  }));
  expect((await page.goto(`${origin}/passkeys`))?.status()).toBe(200);
}, 120_000);

afterAll(async () => {
  await cdp?.send('WebAuthn.disable').catch(() => undefined);
  await context?.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await stack?.stop();
});

// --- the operator's browser -------------------------------------------------------------------------

/** POST from inside the page (same origin as the relying party), as an operator front end would. */
const post = (token: string, p: string, body?: unknown): Promise<{ status: number; body: any }> =>
  page.evaluate(
    async ({ token, p, body }) => {
      const res = await fetch(p, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, body: res.status === 204 ? null : await res.json() };
    },
    { token, p, body },
  );

/** Enrols a passkey in Chromium's authenticator: options, navigator.credentials.create(), verify. */
async function enrol(token: string) {
  const options = await post(token, '/v1/operator/auth/passkeys/registration/options');
  expect(options.status).toBe(200);
  const response = await page.evaluate((o) => SimpleWebAuthnBrowser.startRegistration({ optionsJSON: o }), options.body);
  return post(token, '/v1/operator/auth/passkeys/registration/verify', { response, name: 'Chromium' });
}

/** Signs the authentication options with Chromium's authenticator. */
async function assertion(token: string): Promise<AssertionJSON> {
  const options = await post(token, '/v1/operator/auth/passkeys/authentication/options');
  expect(options.status).toBe(200);
  return page.evaluate((o) => SimpleWebAuthnBrowser.startAuthentication({ optionsJSON: o }), options.body);
}

const verify = (token: string, response: AssertionJSON) => post(token, '/v1/operator/auth/passkeys/authentication/verify', { response });
const login = (password: string) => call(stack.operatorUrl, 'POST', '/v1/operator/auth/login', { json: { email: EMAIL, password } });
const get = (token: string, p: string) => call(stack.operatorUrl, 'GET', p, { token });

// --- the scenario -------------------------------------------------------------------------------------

describe('operator sign-in with a passkey (Chromium + virtual CTAP2 authenticator)', () => {
  it('bootstraps the first platform admin on the host (npm run operator)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/operator.ts', 'create', '--email', EMAIL, '--name', '佐藤 花子', '--role', 'platform-admin'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, MIGRATION_DATABASE_URL: stack.database.ownerUrl },
    });
    initialPassword = /one-time initial password[^:]*: (\S+)/.exec(stdout)![1]!;
    operatorId = /\(([0-9a-f-]{36})\)/.exec(stdout)![1]!;
    const [row] = await stack.database.ownerDb('operators').where({ id: operatorId });
    expect(row).toMatchObject({ email: EMAIL, name: '佐藤 花子', roles: ['platform-admin'], passwordIsInitial: true, createdBy: expect.stringMatching(/^host:/) });
    expect(row.passwordHash).toMatch(/^\$argon2id\$/);
    const [entry] = await stack.database.ownerDb('platform_audit_events').where({ action: 'operator.create', targetId: operatorId });
    expect(entry).toMatchObject({ actorType: 'system', actorId: row.createdBy });
  });

  it('first login: the initial password must be changed and a passkey enrolled before anything else', async () => {
    const first = await login(initialPassword);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ state: 'password_change_required', token: expect.stringMatching(/^fcos_/) });
    const t = first.body.token as string;
    expect([(await get(t, '/v1/operator/operators')).status, (await get(t, '/v1/operator/operators')).body.code]).toEqual([403, 'password_change_required']);

    const changed = await call(stack.operatorUrl, 'POST', '/v1/operator/me/password', { token: t, json: { currentPassword: initialPassword, newPassword: PASSWORD } });
    expect(changed.status).toBe(200);
    expect(changed.body).toEqual({ state: 'second_factor_enrollment_required' });
    const blocked = await get(t, '/v1/operator/operators');
    expect([blocked.status, blocked.body.code]).toEqual([403, 'second_factor_enrollment_required']);

    const enrolled = await enrol(t);
    expect(enrolled.status).toBe(201);
    expect(enrolled.body).toMatchObject({ name: 'Chromium', state: 'active', token: expect.stringMatching(/^fcos_/) });
    // Enrolment replaced the session: the password-only token is dead.
    expect((await get(t, '/v1/operator/me')).status).toBe(401);
    const active = enrolled.body.token as string;
    expect((await get(active, '/v1/operator/me')).body).toEqual({
      via: 'session',
      id: operatorId,
      name: '佐藤 花子',
      roles: ['platform-admin'],
      email: EMAIL,
      sessionState: 'active',
      passkeyCount: 1,
    });
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.rpId).toBe('localhost');

    expect((await post(active, '/v1/operator/auth/logout')).status).toBe(204);
    expect((await get(active, '/v1/operator/me')).status).toBe(401);
  });

  it('later logins: the password alone reaches nothing; a wrong or tampered passkey is refused', async () => {
    const pre = await login(PASSWORD);
    expect(pre.body.state).toBe('second_factor_required');
    const t = pre.body.token as string;
    const blocked = await get(t, '/v1/operator/operators');
    expect([blocked.status, blocked.body.code]).toEqual([403, 'second_factor_required']);

    // A genuine assertion with its signature altered.
    const genuine = await assertion(t);
    const signature = Buffer.from(genuine.response.signature, 'base64url');
    signature[signature.length - 1]! ^= 0xff;
    const tampered = await verify(t, { ...genuine, response: { ...genuine.response, signature: signature.toString('base64url') } });
    expect([tampered.status, tampered.body.code]).toEqual([400, 'webauthn_verification_failed']);
    // The challenge was consumed by the refused attempt: replaying the genuine one is refused too.
    const replayed = await verify(t, genuine);
    expect([replayed.status, replayed.body.code]).toEqual([400, 'invalid_challenge']);
    // A credential the operator never registered.
    const foreign = await assertion(t);
    const unknown = await verify(t, { ...foreign, id: Buffer.from('not-my-passkey').toString('base64url'), rawId: Buffer.from('not-my-passkey').toString('base64url') });
    expect([unknown.status, unknown.body.code]).toEqual([400, 'webauthn_verification_failed']);
    expect((await get(t, '/v1/operator/operators')).status).toBe(403);

    const events = await stack.database.ownerDb('security_events').where({ kind: 'operator_login' });
    expect(events.reduce((n: number, e: { attempts: number }) => n + e.attempts, 0)).toBeGreaterThanOrEqual(2);
    const failures = await stack.database.ownerDb('platform_audit_events').where({ action: 'operator.login.second_factor', outcome: 'failed', actorId: operatorId });
    expect(failures.length).toBeGreaterThanOrEqual(2);
  });

  it('password then passkey: an active session that reaches platform-admin routes, named in the log', async () => {
    const pre = (await login(PASSWORD)).body.token as string;
    const verified = await verify(pre, await assertion(pre));
    expect(verified.status).toBe(200);
    expect(verified.body).toEqual({ state: 'active', token: expect.stringMatching(/^fcos_/) });
    const t = verified.body.token as string;
    expect((await get(pre, '/v1/operator/me')).status).toBe(401);

    const operators = await get(t, '/v1/operator/operators');
    expect(operators.status).toBe(200);
    expect(operators.body.items).toEqual([expect.objectContaining({ id: operatorId, email: EMAIL, passkeyCount: 1, state: 'active', lastLoginAt: expect.any(String) })]);
    const key = await call(stack.operatorUrl, 'POST', '/v1/operator/api-keys', { token: t, json: { name: 'reports', roles: ['viewer'], expiresInSeconds: 3_600 } });
    expect(key.status).toBe(201);
    expect(key.body.apiKey.createdBy).toBe(operatorId);
    const [entry] = await stack.database.ownerDb('platform_audit_events').where({ action: 'operator.api_key.create', targetId: key.body.apiKey.id });
    expect(entry).toMatchObject({ actorType: 'operator', actorId: operatorId, actorRoles: ['platform-admin'] });
  });

  it('signs in on the operator listener\'s own page: password, then its passkey button; the page names the operator and holds an active token', async () => {
    await page.goto(`${origin}/passkeys`);
    const text = (id: string) => page.evaluate((i) => document.getElementById(i)?.textContent ?? '', id);
    // Waits for the state line to change (or a refusal in the log), as a person reading the page would.
    const clickAndWait = async (selector: string) => {
      const before = { state: await text('state'), log: await text('log') };
      await page.click(selector);
      await page.waitForFunction((b) => document.getElementById('state')?.textContent !== b.state || document.getElementById('log')?.textContent !== b.log, before);
      return { state: await text('state'), log: await text('log') };
    };
    expect(await page.isVisible('#email')).toBe(true);
    await page.fill('#email', EMAIL);
    await page.fill('#password', PASSWORD);
    expect(await clickAndWait('#login-button')).toEqual({ state: 'second_factor_required', log: '' });
    expect(await clickAndWait('#verify-button')).toEqual({ state: 'active', log: '' });
    await page.waitForFunction(() => (document.getElementById('who')?.textContent ?? '') !== '');
    expect(await text('who')).toBe('佐藤 花子 (platform-admin)');
    const token = (await page.evaluate('token')) as string;
    expect((await get(token, '/v1/operator/me')).body).toMatchObject({ id: operatorId, sessionState: 'active' });
    expect(await clickAndWait('#logout-button')).toEqual({ state: 'signed out', log: '' });
    expect((await get(token, '/v1/operator/me')).status).toBe(401);
  });

  it('a wrong password counts toward the lockout; a disabled operator cannot sign in', async () => {
    const wrong = await login('Not-the-password-1!');
    expect([wrong.status, wrong.body.code]).toEqual([401, 'invalid_credentials']);
    const nobody = await call(stack.operatorUrl, 'POST', '/v1/operator/auth/login', { json: { email: 'nobody@forclinic.example', password: PASSWORD } });
    expect([nobody.status, nobody.body.code]).toEqual([401, 'invalid_credentials']);
    const [row] = await stack.database.ownerDb('operators').where({ id: operatorId });
    expect(row.failedLoginCount).toBe(1);

    // The last platform admin cannot disable themselves; break-glass can disable them.
    const pre = (await login(PASSWORD)).body.token as string;
    const t = (await verify(pre, await assertion(pre))).body.token as string;
    const self = await call(stack.operatorUrl, 'PATCH', `/v1/operator/operators/${operatorId}`, { token: t, json: { state: 'disabled' } });
    expect([self.status, self.body.code]).toEqual([409, 'own_account']);
    const last = await call(stack.operatorUrl, 'PATCH', `/v1/operator/operators/${operatorId}`, { token: stack.operatorToken, json: { state: 'disabled' } });
    expect([last.status, last.body.code]).toEqual([409, 'last_platform_admin']);
    const other = await call(stack.operatorUrl, 'POST', '/v1/operator/operators', { token: t, json: { email: 'suzuki@forclinic.example', name: '鈴木 一郎', roles: ['platform-admin'] } });
    expect(other.status).toBe(201);
    const disabled = await call(stack.operatorUrl, 'PATCH', `/v1/operator/operators/${operatorId}`, { token: stack.operatorToken, json: { state: 'disabled' } });
    expect(disabled.status).toBe(200);
    expect(disabled.body.state).toBe('disabled');
    expect((await get(t, '/v1/operator/me')).status).toBe(401); // its sessions ended
    const refused = await login(PASSWORD);
    expect([refused.status, refused.body.code]).toEqual([401, 'invalid_credentials']);
  });
});
