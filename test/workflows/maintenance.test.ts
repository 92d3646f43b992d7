import { randomBytes, randomUUID } from 'node:crypto';
import { createMaintenanceActivities } from '../../activities/maintenance';
import { ensureSchedules } from '../../temporal/schedules';
import { NO_CLINIC } from '../../domain/ids';
import type { maintenanceWorkflow } from '../../workflows/maintenance';
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
  it('is created idempotently and, when it runs, prunes ended sessions, stale challenges, old rate-limit windows and old denied attempts only', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    const old = (await login(stack, clinic, 'admin', STRONG_PASSWORD)).body.token;
    const owner = stack.database.ownerDb;
    // One session ended 40 days ago; the admin's current one stays.
    await call(stack.url, 'POST', '/v1/auth/logout', { token: old });
    await owner('sessions').whereNotNull('revoked_at').update({ revoked_at: new Date(Date.now() - 40 * 86_400_000) });
    const session = await owner('sessions').whereNull('revoked_at').first();
    await owner('webauthn_challenges').insert({ tenant_id: clinic.id, session_id: session.id, purpose: 'registration', challenge: `stale-${randomBytes(4).toString('hex')}`, expires_at: new Date(Date.now() - 60_000) });
    await owner('rate_limits').insert({ key: 'login-failures:192.0.2.1', window_start: new Date(Date.now() - 3 * 86_400_000), count: 3 });
    // Denied attempts older than the 90 days they are kept, about the clinic and about no clinic; and a recent one.
    const daysAgo = (days: number) => new Date(Math.floor((Date.now() - days * 86_400_000) / 60_000) * 60_000);
    const [expired, kept89, kept1] = [daysAgo(91), daysAgo(89), daysAgo(1)];
    const attempt = (tenantId: string, minute: Date) => ({ tenant_id: tenantId, kind: 'not_found', minute, client_net: '192.0.2.9', attempts: 5 });
    await owner('security_events').insert([attempt(clinic.id, expired), attempt(NO_CLINIC, expired), attempt(clinic.id, kept89), attempt(NO_CLINIC, kept1)]);

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
    expect(result).toMatchObject({ sessionsPruned: 1, challengesPruned: 1, rateLimitWindowsPruned: 1, clinicsMissing: 0, runs: 1 });
    expect(result.clinics).toBeGreaterThanOrEqual(1);
    expect(await owner('sessions').where({ tenant_id: clinic.id })).toHaveLength(1);
    const kept = await owner('security_events').where({ client_net: '192.0.2.9' }).orderBy('minute');
    expect(kept.map((r: { tenantId: string; minute: Date }) => [r.tenantId, r.minute.getTime()])).toEqual([[clinic.id, kept89.getTime()], [NO_CLINIC, kept1.getTime()]]);
    expect((await call(stack.url, 'GET', '/v1/me', { token })).status).toBe(200);
    await schedule.delete();
  });
});

describe('maintenance at scale', () => {
  it('visits clinics a page at a time and continues as new, covering every clinic once', async () => {
    const owner = stack.database.ownerDb;
    const old = new Date(Date.now() - 40 * 86_400_000);
    const tenants = Array.from({ length: 450 }, (_, i) => ({ id: randomUUID(), slug: `bulk-${i}-${randomBytes(3).toString('hex')}`, name: `Bulk ${i}`, contract_emails: ['ops@bulk.example'], status: 'active' }));
    const accounts = tenants.map((t) => ({ id: randomUUID(), tenant_id: t.id, login_id: 'admin', email: 'admin@bulk.example', display_name: 'Admin', roles: ['admin'], password_hash: 'unused' }));
    // One session per clinic that ended 40 days ago: pruning it is the visit's visible trace.
    const sessions = accounts.map((a) => ({ tenant_id: a.tenant_id, account_id: a.id, token_hash: randomBytes(32), state: 'active', idle_expires_at: old, absolute_expires_at: old }));
    await owner.batchInsert('tenants', tenants, 150);
    await owner.batchInsert('accounts', accounts, 150);
    await owner.batchInsert('sessions', sessions, 150);
    const clinicCount = Number((await owner('tenants').count('* as n').first())!.n);

    const handle = await stack.temporal.client.workflow.start<typeof maintenanceWorkflow>('maintenanceWorkflow', {
      args: [{ pageSize: 100, pagesPerRun: 2 }],
      taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
      workflowId: `maintenance-scale-${randomBytes(4).toString('hex')}`,
    });
    const result = await handle.result(); // follows the chain to its last run
    // 450+ clinics in pages of 100, two pages a run: three runs.
    expect(result).toMatchObject({ clinics: clinicCount, clinicsMissing: 0, runs: Math.ceil(clinicCount / 200) });
    expect(result.sessionsPruned).toBeGreaterThanOrEqual(450);
    expect(await owner('sessions').whereIn('tenant_id', tenants.map((t) => t.id))).toHaveLength(0);

    const first = stack.temporal.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId);
    expect((await first.describe()).status.name).toBe('CONTINUED_AS_NEW');
    // The first run's history holds two pages, not 450 clinics.
    expect((await first.fetchHistory()).events?.length).toBeLessThan(40);
  });

  it('counts a clinic that disappeared instead of failing', async () => {
    const { clinic } = await clinicWithAdmin(stack);
    const acts = createMaintenanceActivities({ db: stack.database.db });
    expect(await acts.pruneClinicSessions([clinic.id, randomUUID()])).toMatchObject({ clinics: 1, clinicsMissing: 1 });
  });
});
