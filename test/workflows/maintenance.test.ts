import { randomBytes } from 'node:crypto';
import { ensureSchedules } from '../../temporal/schedules';
import { clinicWithAdmin, eventually, login, STRONG_PASSWORD } from '../harness/clinic';
import { call } from '../harness/http';
import { startTestStack, type TestStack } from '../harness/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

describe('the nightly maintenance schedule', () => {
  it('is created idempotently and, when it runs, prunes ended sessions, stale challenges and old rate-limit windows only', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    const old = (await login(stack, clinic, 'admin', STRONG_PASSWORD)).body.token;
    const owner = stack.database.ownerDb;
    // One session ended 40 days ago; the admin's current one stays.
    await call(stack.url, 'POST', '/v1/auth/logout', { token: old });
    await owner('sessions').whereNotNull('revoked_at').update({ revoked_at: new Date(Date.now() - 40 * 86_400_000) });
    const session = await owner('sessions').whereNull('revoked_at').first();
    await owner('webauthn_challenges').insert({ tenant_id: clinic.id, session_id: session.id, purpose: 'registration', challenge: `stale-${randomBytes(4).toString('hex')}`, expires_at: new Date(Date.now() - 60_000) });
    await owner('rate_limits').insert({ key: 'login-failures:192.0.2.1', window_start: new Date(Date.now() - 3 * 86_400_000), count: 3 });

    const prefix = `test-${randomBytes(4).toString('hex')}-`;
    const [id] = await ensureSchedules(stack.temporal.client, stack.config.TEMPORAL_TASK_QUEUE, prefix);
    await ensureSchedules(stack.temporal.client, stack.config.TEMPORAL_TASK_QUEUE, prefix); // again: updates, no error
    const schedule = stack.temporal.client.schedule.getHandle(id!);
    const described = await schedule.describe();
    expect(described.spec.calendars?.length ?? 0).toBeGreaterThan(0);
    await schedule.trigger();
    let workflowId = '';
    await eventually('the schedule starts its workflow', async () => {
      const recent = (await schedule.describe()).info.recentActions;
      workflowId = (recent[0]?.action as { workflow?: { workflowId: string } } | undefined)?.workflow?.workflowId ?? '';
      return workflowId !== '';
    });
    const result = await stack.temporal.client.workflow.getHandle(workflowId).result();
    expect(result).toMatchObject({ sessionsPruned: 1, challengesPruned: 1, rateLimitWindowsPruned: 1 });
    expect(result.clinics).toBeGreaterThanOrEqual(1);
    expect(await owner('sessions').where({ tenant_id: clinic.id })).toHaveLength(1);
    expect((await call(stack.url, 'GET', '/v1/me', { token })).status).toBe(200);
    await schedule.delete();
  });
});
