import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { fetchLocalEmails } from '../../lib/local-ses';
import { breakGlassAlertWorkflowId } from '../../temporal/workflow-ids';
import { call } from '../harness/http';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * Break-glass (README: Operators): OPERATOR_TOKEN works outside production, is refused in
 * production unless enabled explicitly, and every use is logged; the security addresses get one
 * mail per 15-minute window, however often the token is used in it.
 */
let stack: TestStack;
const security = `security-${randomBytes(4).toString('hex')}@forclinic.example`;

beforeAll(async () => {
  stack = await startTestStack({ SECURITY_EMAILS: security });
});
afterAll(() => stack?.stop());

const me = (url: string, token: string) => call(url, 'GET', '/v1/operator/me', { token });

describe('break-glass', () => {
  it('works outside production as the break-glass principal with every role; each use is logged and the window mailed once', async () => {
    const uses = 5;
    for (let i = 0; i < uses; i += 1) {
      const reply = await me(stack.operatorUrl, stack.operatorToken);
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual({ via: 'break-glass', id: 'break-glass', name: 'break-glass', roles: ['viewer', 'support', 'security', 'platform-admin'] });
    }
    const db = stack.database.ownerDb;
    const logged = await db('platform_audit_events').where({ action: 'operator.break_glass' });
    expect(logged).toHaveLength(uses);
    expect(logged[0]).toMatchObject({ actorType: 'operator', actorId: 'break-glass', outcome: 'success', details: { route: 'GET /v1/operator/me' } });

    // However the uses fell into windows (a test may run across a window's end), each window is mailed exactly once.
    const windows = await db('break_glass_uses').orderBy('windowStart');
    expect(windows.reduce((n: number, w: { uses: number }) => n + w.uses, 0)).toBe(uses);
    for (const w of windows) {
      const handle = stack.temporal.client.workflow.getHandle(breakGlassAlertWorkflowId(w.id));
      expect(await handle.result()).toEqual({ outcome: 'mailed', mailed: 1 });
      if (process.env.RECORD_HISTORIES) {
        await writeFile(path.join(__dirname, '..', 'histories', 'break-glass-alert.json'), historyToJSON(await handle.fetchHistory()));
      }
    }
    const mails = (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.destination.to.includes(security));
    expect(mails).toHaveLength(windows.length);
    expect(mails[0]!.subject).toContain('break-glass');
    expect(mails[0]!.body.text).toContain('緊急用オペレータートークン');
    expect(mails[0]!.body.text).toContain('GET /v1/operator/me');
    expect((await db('break_glass_uses').whereNull('mailedAt')).length).toBe(0);
  });

  it('is refused in production (401) unless enabled explicitly, and a wrong token is a denied attempt', async () => {
    // Production listens only behind a known TLS proxy (or with its own certificate).
    const production = { NODE_ENV: 'production', VIDEO_TOKEN_SECRET: randomBytes(32).toString('hex'), BEHIND_TLS_PROXY: 'true', TRUSTED_PROXIES: '10.9.9.9/32' };
    const off = await startExtraApiOrFail(production);
    const refused = await me(off.operatorUrl, stack.operatorToken);
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('unauthorized');

    const on = await startExtraApiOrFail({ ...production, OPERATOR_BREAK_GLASS: 'enabled' });
    expect((await me(on.operatorUrl, stack.operatorToken)).status).toBe(200);

    const wrong = await me(stack.operatorUrl, 'x'.repeat(64));
    expect(wrong.status).toBe(401);
    const events = await stack.database.ownerDb('security_events').where({ kind: 'operator_token' });
    expect(events.reduce((n: number, e: { attempts: number }) => n + e.attempts, 0)).toBeGreaterThanOrEqual(2);
  });
});

async function startExtraApiOrFail(env: Record<string, string>) {
  return stack.startExtraApi({ PORT: '0', ...env });
}
