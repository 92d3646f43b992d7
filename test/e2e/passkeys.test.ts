import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
import { onFreePort } from '../../lib/process';
import { STRONG_PASSWORD, activate, createAccount, createAdmin, createClinic, login, type Clinic } from '../harness/clinic';
import { call } from '../harness/http';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * Two-step verification with passkeys in a real browser: Debian's headless Chromium, driven by
 * playwright-core, with a CTAP2 platform authenticator simulated by Chromium itself through the
 * DevTools Protocol (WebAuthn domain). Nothing in the page is faked: navigator.credentials is
 * Chromium's own, and the reference page served by the API (GET /passkeys) runs unchanged.
 */

// The page's globals, as seen by functions that Playwright runs inside it (tsconfig has no DOM lib).
interface PageElement {
  textContent: string | null;
}
declare const document: { getElementById(id: string): PageElement | null };
declare const token: string | null;
interface AssertionJSON {
  id: string;
  rawId: string;
  type: 'public-key';
  response: { clientDataJSON: string; authenticatorData: string; signature: string; userHandle?: string };
  clientExtensionResults: Record<string, unknown>;
  authenticatorAttachment?: string;
}
declare const SimpleWebAuthnBrowser: {
  startAuthentication(opts: { optionsJSON: unknown }): Promise<AssertionJSON>;
};

// Debian's chromium (apt-get install chromium); CHROMIUM_PATH points elsewhere (e.g. Google Chrome).
const CHROMIUM =
  process.env.CHROMIUM_PATH ??
  ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p)) ??
  '/usr/bin/chromium';
const WAIT_MS = 20_000;

let stack: TestStack;
let port: number;
let pageUrl: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let cdp: CDPSession;
let authenticatorId: string;
let clinic: Clinic;
const staffLoginId = 'nurse-hanako';
let staffAccountId: string;
/** The authenticator's signature counter right after registration. */
let signCountAtRegistration: number;
const pageErrors: string[] = [];

beforeAll(async () => {
  // The relying party is "localhost" (never an IP address) and the only origin allowed to run
  // passkey ceremonies is the page's own, so the API's port is chosen before it starts.
  stack = await onFreePort('API', (p) => startTestStack({ PORT: String(p), WEBAUTHN_RP_ID: 'localhost', WEBAUTHN_ORIGINS: `http://localhost:${p}` }));
  port = stack.config.PORT;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context = await browser.newContext(); // a fresh, throw-away profile
  page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.on('pageerror', (err) => pageErrors.push(err.message));
  cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  ({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  }));
}, 120_000);

afterAll(async () => {
  await cdp?.send('WebAuthn.disable').catch(() => undefined);
  await context?.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await stack?.stop();
});

// --- the page, as a user sees it -----------------------------------------------------------------

const text = (id: string) => page.evaluate((i) => document.getElementById(i)?.textContent ?? null, id);
const pageToken = async () => {
  const t = await page.evaluate(() => token);
  if (!t) throw new Error('the page holds no session token');
  return t;
};

/**
 * Clicks, then waits until the page shows a new state or reports a failure (an API error in
 * #log, or an uncaught error such as a refused WebAuthn ceremony), and returns what it shows.
 */
async function clickAndReadState(selector: string): Promise<{ state: string | null; log: string | null; errors: string[] }> {
  const before = { state: await text('state'), log: (await text('log')) ?? '' };
  const errorsBefore = pageErrors.length;
  let onError: (() => void) | undefined;
  const failed = new Promise<void>((resolve) => {
    onError = resolve;
    page.once('pageerror', onError);
  });
  try {
    await page.click(selector);
    await Promise.race([
      page.waitForFunction(
        (b) => document.getElementById('state')?.textContent !== b.state || (document.getElementById('log')?.textContent ?? '') !== b.log,
        before,
        { timeout: WAIT_MS },
      ),
      failed,
    ]);
  } finally {
    if (onError) page.off('pageerror', onError);
  }
  return { state: await text('state'), log: await text('log'), errors: pageErrors.slice(errorsBefore) };
}

async function expectStateAfterClick(selector: string, state: string) {
  expect(await clickAndReadState(selector)).toEqual({ state, log: '', errors: [] });
}

async function logInThroughPage() {
  await page.fill('#tenant', clinic.slug);
  await page.fill('#loginId', staffLoginId);
  await page.fill('#password', STRONG_PASSWORD);
  return clickAndReadState('#login-button');
}

// --- the authenticator, as Chromium sees it --------------------------------------------------------

async function virtualCredentials() {
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  return credentials;
}

// --- the API, as a front end or an attacker sees it --------------------------------------------------

const me = (t: string) => call(stack.url, 'GET', '/v1/me', { token: t });
const verifyAssertion = (t: string, response: AssertionJSON) =>
  call(stack.url, 'POST', '/v1/auth/webauthn/authentication/verify', { token: t, json: { response } });

/** Asks for authentication options with this session, from inside the page (same origin). */
const fetchAuthOptions = (t: string) =>
  page.evaluate(async (bearer) => {
    const res = await fetch('/v1/auth/webauthn/authentication/options', { method: 'POST', headers: { authorization: `Bearer ${bearer}` } });
    if (!res.ok) throw new Error(`authentication options: ${res.status} ${await res.text()}`);
    return (await res.json()) as { challenge: string; rpId?: string; allowCredentials?: { id: string }[] };
  }, t);

/** Has Chromium's authenticator sign these options, exactly as the page's own button would. */
const signInPage = (optionsJSON: unknown) => page.evaluate((o) => SimpleWebAuthnBrowser.startAuthentication({ optionsJSON: o }), optionsJSON);

const clientData = (r: AssertionJSON) =>
  JSON.parse(Buffer.from(r.response.clientDataJSON, 'base64url').toString('utf8')) as { type: string; challenge: string; origin: string };

async function dbCredentials() {
  return stack.database.ownerDb('webauthn_credentials').where({ accountId: staffAccountId }).select('credentialId', 'counter', 'lastUsedAt');
}

// --- the scenario ---------------------------------------------------------------------------------

describe('passkeys in a real browser (Chromium + virtual CTAP2 authenticator)', () => {
  it('serves the API on the chosen port and the page at http://localhost', async () => {
    const api = new URL(stack.url);
    expect(api.hostname).toBe('127.0.0.1');
    expect(api.port).toBe(String(port));
    pageUrl = `http://localhost:${port}/passkeys`;
    const res = await page.goto(pageUrl);
    expect(res?.status()).toBe(200);
    expect(await page.evaluate(() => (globalThis as { isSecureContext?: boolean }).isSecureContext)).toBe(true);
    expect(await text('state')).toBe('signed out');
    expect(await page.evaluate(() => token)).toBeNull(); // the page's token variable is readable
  });

  it('sets up a clinic that requires passkeys for everyone, and an activated staff account', async () => {
    clinic = await createClinic(stack, 'passkeys');
    const admin = await createAdmin(stack, clinic);
    const adminToken = await activate(stack, clinic, 'admin', admin.initialPassword);
    const policy = await call(stack.url, 'PUT', '/v1/settings/password-policy', { token: adminToken, json: { secondFactor: 'everyone' } });
    expect(policy.status).toBe(200);
    expect(policy.body.secondFactor).toBe('everyone');

    const staff = await createAccount(stack, adminToken, staffLoginId);
    staffAccountId = staff.accountId;
    await activate(stack, clinic, staffLoginId, staff.initialPassword);
    const check = await login(stack, clinic, staffLoginId, STRONG_PASSWORD);
    expect(check.body.state).toBe('second_factor_enrollment_required');
    await call(stack.url, 'POST', '/v1/auth/logout', { token: check.body.token });
    expect(await virtualCredentials()).toEqual([]);
  });

  it('logs in with the password, then enrols a passkey from the page', async () => {
    expect(await logInThroughPage()).toEqual({ state: 'second_factor_enrollment_required', log: '', errors: [] });
    const enrolling = await pageToken();
    const blocked = await me(enrolling);
    expect(blocked.status).toBe(403);
    expect(blocked.body.code).toBe('second_factor_enrollment_required');

    await expectStateAfterClick('#enroll-button', 'active');
    // Enrolment replaced the session: the page holds a new token, the password-only one is dead.
    const t = await pageToken();
    expect(t).not.toBe(enrolling);
    expect((await me(enrolling)).status).toBe(401);
    const list = await call(stack.url, 'GET', '/v1/auth/webauthn/credentials', { token: t });
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(1);
    expect(list.body.items[0]).toMatchObject({ name: 'This browser', lastUsedAt: null });
    const mine = await me(t);
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({ accountId: staffAccountId, loginId: staffLoginId, passkeyCount: 1 });

    // The key pair lives in Chromium's authenticator, for this relying party and this user.
    const creds = await virtualCredentials();
    expect(creds).toHaveLength(1);
    const [vc] = creds;
    expect(vc!.rpId).toBe('localhost');
    expect(vc!.isResidentCredential).toBe(true);
    expect(Buffer.from(vc!.userHandle!, 'base64').toString('hex')).toBe(staffAccountId.replace(/-/g, ''));
    const [row] = await dbCredentials();
    expect(row.credentialId).toBe(Buffer.from(vc!.credentialId, 'base64').toString('base64url'));
    expect(Number(row.counter)).toBe(vc!.signCount);
    signCountAtRegistration = vc!.signCount;
  });

  it('logs out, logs in again and completes two-step verification with the passkey', async () => {
    await expectStateAfterClick('#logout-button', 'signed out');
    expect(await page.evaluate(() => token)).toBeNull();

    expect(await logInThroughPage()).toEqual({ state: 'second_factor_required', log: '', errors: [] });
    const t = await pageToken();
    const blocked = await me(t);
    expect(blocked.status).toBe(403);
    expect(blocked.body.code).toBe('second_factor_required');

    await expectStateAfterClick('#verify-button', 'active');
    // A new session after the second factor; the token from before it stops working.
    const after = await pageToken();
    expect(after).not.toBe(t);
    expect((await me(after)).status).toBe(200);
    expect((await me(t)).status).toBe(401);

    const [vc] = await virtualCredentials();
    expect(vc!.signCount).toBe(signCountAtRegistration + 1);
    const [row] = await dbCredentials();
    expect(Number(row.counter)).toBe(vc!.signCount);
    expect(row.lastUsedAt).toBeInstanceOf(Date);
  });

  it('refuses a replayed assertion, even to a new session with a challenge of its own', async () => {
    await expectStateAfterClick('#logout-button', 'signed out');
    expect(await logInThroughPage()).toEqual({ state: 'second_factor_required', log: '', errors: [] });
    const first = await pageToken();

    // A genuine assertion, captured as it leaves the browser.
    const options = await fetchAuthOptions(first);
    expect(options.rpId).toBe('localhost');
    expect(options.allowCredentials).toHaveLength(1);
    const assertion = await signInPage(options);
    expect(clientData(assertion)).toMatchObject({ type: 'webauthn.get', challenge: options.challenge, origin: `http://localhost:${port}` });

    const accepted = await verifyAssertion(first, assertion);
    expect(accepted.status).toBe(200);
    expect(accepted.body).toEqual({ state: 'active', token: expect.any(String), previousSignIn: { at: expect.any(String), clientIp: '127.0.0.1' } });
    expect((await me(accepted.body.token)).status).toBe(200);
    expect((await me(first)).status).toBe(401);

    // The attacker has the password and the captured assertion, and logs in elsewhere.
    const second = await login(stack, clinic, staffLoginId, STRONG_PASSWORD);
    expect(second.body.state).toBe('second_factor_required');
    const replayed = await verifyAssertion(second.body.token, assertion);
    expect(replayed.status).toBe(400);
    expect(replayed.body.code).toBe('invalid_challenge');

    // Also when that session has an outstanding challenge of its own.
    const fresh = await fetchAuthOptions(second.body.token);
    expect(fresh.challenge).not.toBe(options.challenge);
    const replayedAgain = await verifyAssertion(second.body.token, assertion);
    expect(replayedAgain.status).toBe(400);
    expect(replayedAgain.body.code).toBe('invalid_challenge');

    const stillBlocked = await me(second.body.token);
    expect(stillBlocked.status).toBe(403);
    expect(stillBlocked.body.code).toBe('second_factor_required');
    await call(stack.url, 'POST', '/v1/auth/logout', { token: second.body.token });
  });

  it('refuses an assertion over a challenge that a newer one replaced, and accepts the newer one', async () => {
    const t = (await login(stack, clinic, staffLoginId, STRONG_PASSWORD)).body.token as string;
    const stale = await fetchAuthOptions(t);
    const current = await fetchAuthOptions(t); // replaces the first
    expect(current.challenge).not.toBe(stale.challenge);

    const overStale = await signInPage(stale);
    expect(clientData(overStale).challenge).toBe(stale.challenge);
    const refused = await verifyAssertion(t, overStale);
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('invalid_challenge');
    expect((await me(t)).status).toBe(403);

    // The refusal did not consume the current challenge: the genuine, current assertion works.
    const overCurrent = await signInPage(current);
    const accepted = await verifyAssertion(t, overCurrent);
    expect(accepted.status).toBe(200);
    expect(accepted.body).toEqual({ state: 'active', token: expect.any(String), previousSignIn: { at: expect.any(String), clientIp: '127.0.0.1' } });
    expect((await me(accepted.body.token)).status).toBe(200);
    expect((await me(t)).status).toBe(401);
  });

  it('kept one credential in the authenticator, whose signature counter the server tracked', async () => {
    const creds = await virtualCredentials();
    expect(creds).toHaveLength(1);
    const [vc] = creds;
    // Four assertions since registration: the page's button, the captured (then replayed) one,
    // the one over the stale challenge and the one over the current challenge.
    expect(vc!.signCount).toBe(signCountAtRegistration + 4);
    const rows = await dbCredentials();
    expect(rows).toHaveLength(1);
    // The last verified assertion was also the last one signed: the server holds the same counter.
    expect(Number(rows[0].counter)).toBe(vc!.signCount);
    expect(rows[0].credentialId).toBe(Buffer.from(vc!.credentialId, 'base64').toString('base64url'));
    expect(pageErrors).toEqual([]);
  });

  it('re-authenticates an active session with the passkey, which adding another passkey needs after 5 minutes', async () => {
    const pre = (await login(stack, clinic, staffLoginId, STRONG_PASSWORD)).body.token as string;
    const t = (await verifyAssertion(pre, await signInPage(await fetchAuthOptions(pre)))).body.token as string;
    await stack.database.ownerDb('sessions').whereNull('revoked_at').update({ verified_at: stack.database.ownerDb.raw(`now() - interval '6 minutes'`) });
    const add = await call(stack.url, 'POST', '/v1/auth/webauthn/registration/options', { token: t });
    expect([add.status, add.body.code]).toEqual([403, 'reauthentication_required']);

    const reauthenticated = await verifyAssertion(t, await signInPage(await fetchAuthOptions(t)));
    expect(reauthenticated.status).toBe(200);
    expect(reauthenticated.body).toEqual({ state: 'active' }); // the same session: no new token
    expect((await call(stack.url, 'POST', '/v1/auth/webauthn/registration/options', { token: t })).status).toBe(200);
    expect(pageErrors).toEqual([]);
  });
});
