import { randomBytes } from 'node:crypto';
import { tenantProvisioningWorkflowId } from '../../temporal/workflow-ids';
import { call, type Reply } from './http';
import type { TestStack } from './stack';

/** Drives the API the way a clinic's front end and an operator do. */

/**
 * What these helpers use of a stack: the listeners, the break-glass token and a workflow's
 * result. A TestStack is one; so is the production-shape test's cluster (test/cluster/).
 */
export type ApiTarget = Pick<TestStack, 'url' | 'operatorUrl' | 'operatorToken' | 'resultOf'>;

export const STRONG_PASSWORD = 'Sakura-2026-clinic!';

export interface Clinic {
  id: string;
  slug: string;
}

export async function createClinic(stack: ApiTarget, prefix = 'clinic'): Promise<Clinic> {
  const slug = `${prefix}-${randomBytes(4).toString('hex')}`;
  const reply = await call(stack.operatorUrl, 'POST', '/v1/operator/tenants', {
    token: stack.operatorToken,
    json: { slug, name: `Clinic ${slug}`, contractEmails: [`contract@${slug}.example`] },
  });
  if (reply.status !== 201) throw new Error(`createClinic: ${reply.status} ${reply.text}`);
  await stack.resultOf(tenantProvisioningWorkflowId(reply.body.id));
  return { id: reply.body.id, slug };
}

export async function createAdmin(stack: ApiTarget, clinic: Clinic, loginId = 'admin') {
  const reply = await call(stack.operatorUrl, 'POST', `/v1/operator/tenants/${clinic.id}/admins`, {
    token: stack.operatorToken,
    json: { loginId, email: `${loginId}@${clinic.slug}.example`, displayName: `Admin ${loginId}` },
  });
  if (reply.status !== 201) throw new Error(`createAdmin: ${reply.status} ${reply.text}`);
  return reply.body as { accountId: string; initialPassword: string };
}

export function login(stack: ApiTarget, clinic: Clinic, loginId: string, password: string, headers?: Record<string, string>): Promise<Reply> {
  return call(stack.url, 'POST', '/v1/auth/login', { json: { tenant: clinic.slug, loginId, password }, headers });
}

/** First login with the initial password, then the user's own password: an active session token. */
export async function activate(stack: ApiTarget, clinic: Clinic, loginId: string, initialPassword: string, password = STRONG_PASSWORD): Promise<string> {
  const first = await login(stack, clinic, loginId, initialPassword);
  if (first.status !== 200 || first.body.state !== 'password_change_required') throw new Error(`activate: ${first.status} ${first.text}`);
  const changed = await call(stack.url, 'POST', '/v1/auth/password', {
    token: first.body.token,
    json: { currentPassword: initialPassword, newPassword: password },
  });
  if (changed.status !== 204) throw new Error(`activate: password change ${changed.status} ${changed.text}`);
  return first.body.token;
}

/** A clinic with an active administrator: the starting point of most identity tests. */
export async function clinicWithAdmin(stack: ApiTarget, prefix = 'clinic') {
  const clinic = await createClinic(stack, prefix);
  const admin = await createAdmin(stack, clinic);
  const token = await activate(stack, clinic, 'admin', admin.initialPassword);
  return { clinic, adminId: admin.accountId, token };
}

/**
 * Creates an account through the clinic admin API. Past the 5 minutes a new account's proof
 * allows, the admin (whose password is STRONG_PASSWORD) confirms it and sends it again, as a front end does.
 */
export async function createAccount(stack: ApiTarget, adminToken: string, loginId: string, roles: string[] = ['staff']) {
  const send = () =>
    call(stack.url, 'POST', '/v1/accounts', {
      token: adminToken,
      json: { loginId, email: `${loginId.normalize("NFKC").toLowerCase()}@example.jp`, displayName: loginId, roles },
    });
  let reply = await send();
  if (reply.status === 403 && reply.body.code === 'reauthentication_required') {
    await call(stack.url, 'POST', '/v1/auth/reauthenticate', { token: adminToken, json: { password: STRONG_PASSWORD } });
    reply = await send();
  }
  if (reply.status !== 201) throw new Error(`createAccount: ${reply.status} ${reply.text}`);
  return reply.body as { accountId: string; initialPassword: string };
}

/** Polls `probe` until it returns true (for states reached by timers on the server), or fails. */
export async function eventually(what: string, probe: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
