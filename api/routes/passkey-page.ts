import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { defineRoute } from '../route';

/**
 * A small page for passkey sign-in and enrolment with @simplewebauthn/browser: a reference for
 * the clinics' front-end developers, and what the browser end-to-end test drives. WebAuthn needs
 * a secure context, so open it as http://localhost:<port>/passkeys (a relying party cannot be an
 * IP address) or over HTTPS. Not mounted when NODE_ENV=production (api/app.ts): there the page
 * and its scripts are 404, and the clinics' own front ends are the only way to enrol.
 */
// The package's exports hide its UMD bundle; find it from the package's own entry point.
const browserLib = readFileSync(
  path.join(path.dirname(require.resolve('@simplewebauthn/browser')), '..', 'dist', 'bundle', 'index.umd.min.js'),
  'utf8',
);

const head = (title: string) => `<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>${title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script src="/passkeys/simplewebauthn-browser.js"></script>
<script src="/passkeys/app.js" defer></script></head>`;

/** The clinics' page: a clinic user signs in, enrols and presents passkeys (the public listener). */
const clinicPage = `${head('FOR CLINIC passkeys')}
<body>
<h1>FOR CLINIC – パスキー / Passkeys</h1>
<form id="login">
  <label>Clinic <input id="tenant" autocomplete="organization"></label>
  <label>Login ID <input id="loginId" autocomplete="username"></label>
  <label>Password <input id="password" type="password" autocomplete="current-password"></label>
  <button id="login-button" type="submit">Log in</button>
</form>
<button id="enroll-button">Register a passkey</button>
<button id="verify-button">Verify with passkey</button>
<button id="logout-button">Log out</button>
<p>State: <output id="state">signed out</output></p>
<pre id="log"></pre>
</body></html>`;

/**
 * The operators' page (the operator listener, whose origin their passkeys are bound to): sign in,
 * change the initial password, enrol or present a passkey, and copy the session's token for the
 * operator API (curl, the CLI). The token is shown to no one else: it stays in this page's memory.
 */
const operatorPage = `${head('FOR CLINIC operators – passkeys')}
<body>
<h1>FOR CLINIC 運用者 – パスキー / Operators – passkeys</h1>
<form id="login">
  <label>E-mail <input id="email" type="email" autocomplete="username"></label>
  <label>Password <input id="password" type="password" autocomplete="current-password"></label>
  <button id="login-button" type="submit">Log in</button>
</form>
<form id="change">
  <label>New password <input id="newPassword" type="password" autocomplete="new-password"></label>
  <button id="change-button" type="submit">Change the initial password</button>
</form>
<button id="enroll-button">Register a passkey</button>
<button id="verify-button">Verify with passkey</button>
<button id="copy-button">Copy the session token</button>
<button id="logout-button">Log out</button>
<p>State: <output id="state">signed out</output> <output id="who"></output></p>
<pre id="log"></pre>
</body></html>`;

/** What both pages' scripts share: the token, the state line, and calls that log their refusals. */
const common = `
const { startRegistration, startAuthentication } = SimpleWebAuthnBrowser;
let token = null;
const $ = (id) => document.getElementById(id);
const show = (state) => { $('state').textContent = state; };
const log = (m) => { $('log').textContent += m + '\\n'; };
async function api(method, path, body) {
  const res = await fetch(path, { method, headers: { 'content-type': 'application/json', ...(token ? { authorization: 'Bearer ' + token } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = res.status === 204 ? null : await res.json();
  if (!res.ok) { log(method + ' ' + path + ' → ' + res.status + ' ' + (data && data.code) + (data && data.detail ? ': ' + data.detail : '')); throw new Error(data && data.code); }
  return data;
}
`;

const clinicApp = `${common}
$('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = await api('POST', '/v1/auth/login', { tenant: $('tenant').value, loginId: $('loginId').value, password: $('password').value });
  token = r.token; show(r.state);
});
$('enroll-button').addEventListener('click', async () => {
  const options = await api('POST', '/v1/auth/webauthn/registration/options');
  const response = await startRegistration({ optionsJSON: options });
  const r = await api('POST', '/v1/auth/webauthn/registration/verify', { response, name: 'This browser' });
  if (r.token) token = r.token; // enrolment replaced the session
  show(r.state);
});
$('verify-button').addEventListener('click', async () => {
  const options = await api('POST', '/v1/auth/webauthn/authentication/options');
  const response = await startAuthentication({ optionsJSON: options });
  const r = await api('POST', '/v1/auth/webauthn/authentication/verify', { response });
  if (r.token) token = r.token; // two-step verification replaced the session
  show(r.state);
});
$('logout-button').addEventListener('click', async () => {
  await api('POST', '/v1/auth/logout'); token = null; show('signed out');
});
`;

const operatorApp = `${common}
async function who() {
  const me = await api('GET', '/v1/operator/me');
  $('who').textContent = me.name + ' (' + me.roles.join(', ') + ')';
}
$('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = await api('POST', '/v1/operator/auth/login', { email: $('email').value, password: $('password').value });
  token = r.token; show(r.state);
});
$('change').addEventListener('submit', async (e) => {
  e.preventDefault();
  const r = await api('POST', '/v1/operator/me/password', { currentPassword: $('password').value, newPassword: $('newPassword').value });
  show(r.state);
});
$('enroll-button').addEventListener('click', async () => {
  const options = await api('POST', '/v1/operator/auth/passkeys/registration/options');
  const response = await startRegistration({ optionsJSON: options });
  const r = await api('POST', '/v1/operator/auth/passkeys/registration/verify', { response, name: 'This browser' });
  if (r.token) token = r.token; // enrolment replaced the session
  show(r.state); await who();
});
$('verify-button').addEventListener('click', async () => {
  const options = await api('POST', '/v1/operator/auth/passkeys/authentication/options');
  const response = await startAuthentication({ optionsJSON: options });
  const r = await api('POST', '/v1/operator/auth/passkeys/authentication/verify', { response });
  if (r.token) token = r.token; // the second step replaced the session; from an active one it re-proved it
  show('active'); await who();
});
$('copy-button').addEventListener('click', async () => {
  if (token) { await navigator.clipboard.writeText(token); log('token copied (Authorization: Bearer …)'); }
});
$('logout-button').addEventListener('click', async () => {
  await api('POST', '/v1/operator/auth/logout'); token = null; show('signed out'); $('who').textContent = '';
});
`;

const CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** The page of a listener: clinics' on the public one, operators' on the operator one. */
export const passkeyPageRoutes = (listener: 'public' | 'operator') => {
  const page = listener === 'operator' ? operatorPage : clinicPage;
  const app = listener === 'operator' ? operatorApp : clinicApp;
  return [
    defineRoute({
      method: 'get',
      path: '/passkeys',
      operationId: 'passkeyPage',
      summary: 'Reference page: log in and use passkeys from a browser',
      tags: ['meta'],
      security: 'none',
      responses: { 200: { description: 'HTML page', contentType: 'text/html', schema: z.string() } },
      handler: async (ctx) => {
        ctx.set('Content-Security-Policy', CSP);
        ctx.type = 'text/html';
        ctx.body = page;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/passkeys/app.js',
      operationId: 'passkeyPageScript',
      summary: 'The reference page\'s script',
      tags: ['meta'],
      security: 'none',
      responses: { 200: { description: 'JavaScript', contentType: 'text/javascript', schema: z.string() } },
      handler: async (ctx) => {
        ctx.type = 'text/javascript';
        ctx.body = app;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/passkeys/simplewebauthn-browser.js',
      operationId: 'passkeyBrowserLibrary',
      summary: '@simplewebauthn/browser, served for the reference page',
      tags: ['meta'],
      security: 'none',
      responses: { 200: { description: 'JavaScript', contentType: 'text/javascript', schema: z.string() } },
      handler: async (ctx) => {
        ctx.type = 'text/javascript';
        ctx.body = browserLib;
      },
    }),
  ];
};
