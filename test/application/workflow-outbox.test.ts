import { WorkflowNotFoundError } from '@temporalio/common';
import { commitThenDispatch } from '../../application/commit-then-dispatch';
import * as outboxDb from '../../db/outbox';

// The real module, with the ordering check made failable by one test (it is an ES export, which
// jest.spyOn cannot replace).
jest.mock('../../db/outbox', () => {
  const actual = jest.requireActual('../../db/outbox');
  return { ...actual, oldestPendingSeq: jest.fn(actual.oldestPendingSeq) };
});
import { fetchLocalEmails } from '../../lib/local-ses';
import { createLogger } from '../../lib/logger';
import { tenantProvisioningWorkflowId } from '../../temporal/workflow-ids';
import { WorkflowOutbox } from '../../temporal/workflow-outbox';
import { call } from '../harness/http';
import { book, bookingClinic } from '../harness/consultations';
import { slotOn } from '../harness/slots';
import { startTestStack, type TestStack } from '../harness/stack';
import { eventually } from '../harness/clinic';
import type { RunningApi } from '../../api/server';

/**
 * Commit, then start: every crash window between a database change and its workflow.
 * "Temporal unreachable" is real here: a second API process on the same database whose
 * TEMPORAL_ADDRESS answers nothing (connection refused), so its dispatch after commit fails.
 */
const UNREACHABLE = '127.0.0.1:1';
let stack: TestStack;
let cutOff: RunningApi;
beforeAll(async () => {
  // The visit checked in below is days ahead: check-in opens with the video room when that is earlier
  // than the visit's day (domain/consultation.ts checkInOpensAt).
  stack = await startTestStack({ JOIN_WINDOW_BEFORE_SECONDS: String(7 * 86_400) });
  cutOff = await stack.startExtraApi({ TEMPORAL_ADDRESS: UNREACHABLE });
});
afterAll(async () => {
  await stack?.stop();
});

const outboxRows = (workflowId: string) => stack.database.ownerDb('workflow_outbox').where({ workflow_id: workflowId }).orderBy('seq');
const describeWorkflow = (workflowId: string) => stack.temporal.client.workflow.getHandle(workflowId).describe();

describe('the workflow outbox', () => {
  it('starts nothing for a change that rolls back', async () => {
    const { clinic } = await bookingClinic(stack);
    const workflowId = `outbox-test/${clinic.id}/rolled-back`;
    await expect(
      commitThenDispatch({ db: stack.database.db, outbox: outboxFor() }, clinic.id, async (_trx, enqueue) => {
        await enqueue({ kind: 'start', workflowId, workflowType: 'maintenanceWorkflow', args: [] });
        throw new Error('the use case failed after enqueueing');
      }),
    ).rejects.toThrow('the use case failed');
    expect(await outboxRows(workflowId)).toEqual([]);
    await stack.sweepOutbox();
    await expect(describeWorkflow(workflowId)).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });

  it('commits a clinic while Temporal is unreachable; the sweeper starts its provisioning and mails once', async () => {
    const slug = `outbox-${Date.now().toString(36)}`;
    const started = Date.now();
    const created = await call(cutOff.operatorUrl, 'POST', '/v1/operator/tenants', {
      token: stack.operatorToken,
      json: { slug, name: 'Outbox Clinic', contractEmails: [`a@${slug}.example`, `b@${slug}.example`] },
    });
    // The clinic exists (committed) and the answer did not wait for Temporal beyond the dispatch deadline.
    expect(created.status).toBe(201);
    expect(Date.now() - started).toBeLessThan(8_000);
    const workflowId = tenantProvisioningWorkflowId(created.body.id);
    const [pending] = await outboxRows(workflowId);
    expect(pending).toMatchObject({ kind: 'start', dispatchedAt: null, attempts: 1 });
    expect(pending.lastError).toBeTruthy();
    await expect(describeWorkflow(workflowId)).rejects.toBeInstanceOf(WorkflowNotFoundError);

    // The sweeper leaves a row alone while its back-off runs; make it due, as a minute later.
    await stack.database.ownerDb('workflow_outbox').where({ id: pending.id }).update({ claimedUntil: null, createdAt: new Date(Date.now() - 60_000) });
    const swept = await stack.sweepOutbox();
    expect(swept.dispatched).toBeGreaterThanOrEqual(1);
    expect(await stack.temporal.client.workflow.getHandle(workflowId).result()).toMatchObject({ welcomeEmailsSent: 2, outcome: 'provisioned' });
    expect((await outboxRows(workflowId))[0]).toMatchObject({ outcome: 'started' });
    expect((await stack.database.ownerDb('tenants').where({ id: created.body.id }).first()).status).toBe('active');

    // Dispatching the same row again (a crash after Temporal accepted it, before it was marked) runs nothing twice.
    await stack.database.ownerDb('workflow_outbox').where({ id: pending.id }).update({ dispatchedAt: null, outcome: null, createdAt: new Date(Date.now() - 60_000) });
    await stack.sweepOutbox();
    expect((await outboxRows(workflowId))[0]).toMatchObject({ outcome: 'already_started' });
    const mails = (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.destination.to[0]?.endsWith(`@${slug}.example`));
    expect(mails).toHaveLength(2);
  });

  it('answers a booking once its workflow has started; the row is marked just after, without the answer waiting for it', async () => {
    const c = await bookingClinic(stack);
    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slotOn(2, '10:25'), mode: 'in_person' });
    expect(booked.status).toBe(201);
    // Started before the answer (commit, start, answer), not left to the sweeper.
    expect((await describeWorkflow(booked.body.workflowId)).status.name).toBe('RUNNING');
    await eventually('the outbox row is marked started', async () => (await outboxRows(booked.body.workflowId))[0]?.outcome === 'started', 5_000);
  });

  it('books while Temporal is unreachable (201); the first action on it starts the pending workflow itself', async () => {
    const c = await bookingClinic(stack);
    const booked = await book({ ...stack, url: cutOff.url } as TestStack, c.staffToken, {
      patientId: c.patientId,
      practitionerId: c.practitionerId,
      startsAt: slotOn(2, '10:15'),
      mode: 'in_person',
    });
    expect(booked.status).toBe(201);
    await expect(describeWorkflow(booked.body.workflowId)).rejects.toBeInstanceOf(WorkflowNotFoundError);
    // On the API that cannot reach Temporal, an action answers 503 with Retry-After, promptly.
    const t0 = Date.now();
    const refused = await call(cutOff.url, 'POST', `/v1/consultations/${booked.body.id}/check-in`, { token: c.staffToken });
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('service_unavailable');
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(Date.now() - t0).toBeLessThan(15_000);
    // On a healthy API the same action finds the start still in the outbox, sends it, and succeeds.
    const checkedIn = await call(stack.url, 'POST', `/v1/consultations/${booked.body.id}/check-in`, { token: c.staffToken });
    expect(checkedIn.status).toBe(200);
    expect(checkedIn.body.status).toBe('checked_in');
    expect((await outboxRows(booked.body.workflowId))[0]).toMatchObject({ outcome: 'started' });
  });

  it('keeps one workflow\'s messages in order and defers those behind a pending older one', async () => {
    const { clinic } = await bookingClinic(stack);
    const workflowId = `outbox-test/${clinic.id}/ordered`;
    const outbox = outboxFor();
    const ids = await commitThenDispatch({ db: stack.database.db, outbox: outboxFor(UNREACHABLE_CLIENT) }, clinic.id, async (_trx, enqueue) => {
      await enqueue({ kind: 'signal', workflowId, signal: 'first' });
      await enqueue({ kind: 'signal', workflowId, signal: 'second' });
      return (await outboxRows(workflowId)).map((r: { id: string }) => r.id);
    }).catch(() => [] as string[]);
    const rows = await outboxRows(workflowId);
    expect(rows.map((r: { signalName: string }) => r.signalName)).toEqual(['first', 'second']);
    // Asked to send only the second, the dispatcher leaves it for after the first.
    await stack.database.ownerDb('workflow_outbox').whereIn('id', rows.map((r: { id: string }) => r.id)).update({ claimedUntil: null });
    expect(await outbox.dispatch([rows[1].id])).toEqual({ dispatched: 0, failed: 0, deferred: 1 });
    // Both together go out in order; the workflow does not exist, so each is recorded as workflow_gone.
    expect(await outbox.dispatch(rows.map((r: { id: string }) => r.id))).toEqual({ dispatched: 2, failed: 0, deferred: 0 });
    expect((await outboxRows(workflowId)).map((r: { outcome: string }) => r.outcome)).toEqual(['workflow_gone', 'workflow_gone']);
    expect(ids).toHaveLength(0);
  });

  it('does not send a signal whose order it cannot check (the oldest-pending query failed): it waits for the next pass', async () => {
    const { clinic } = await bookingClinic(stack);
    const workflowId = `outbox-test/${clinic.id}/unchecked`;
    await commitThenDispatch({ db: stack.database.db, outbox: outboxFor(UNREACHABLE_CLIENT) }, clinic.id, async (_trx, enqueue) => {
      await enqueue({ kind: 'signal', workflowId, signal: 'first' });
      await enqueue({ kind: 'signal', workflowId, signal: 'second' });
    }).catch(() => undefined);
    const rows = await outboxRows(workflowId);
    await stack.database.ownerDb('workflow_outbox').whereIn('id', rows.map((r: { id: string }) => r.id)).update({ claimedUntil: null });
    jest.mocked(outboxDb.oldestPendingSeq).mockRejectedValueOnce(new Error('pool timeout'));
    // Only the second asked for, and its order unknown: it is not sent ahead of the first.
    expect(await outboxFor().dispatch([rows[1].id])).toEqual({ dispatched: 0, failed: 0, deferred: 1 });
    expect((await outboxRows(workflowId)).map((r: { outcome: string | null }) => r.outcome)).toEqual([null, null]);
    expect(await outboxFor().dispatch(rows.map((r: { id: string }) => r.id))).toEqual({ dispatched: 2, failed: 0, deferred: 0 });
  });
});

describe('the sweeper gives back slots of consultations whose workflow ended abnormally', () => {
  it('cancels a consultation whose workflow was terminated, logs it, and the slot can be booked again', async () => {
    const c = await bookingClinic(stack);
    const slot = { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slotOn(2, '10:20'), mode: 'in_person' };
    const booked = await book(stack, c.staffToken, slot);
    expect(booked.status).toBe(201);
    expect((await book(stack, c.staffToken, slot)).body.code).toBe('slot_taken');
    await stack.temporal.client.workflow.getHandle(booked.body.workflowId).terminate('history too large');
    // Visibility catches up with the termination shortly: sweep until the reconciler has seen it.
    await eventually('the terminated consultation is released', async () => {
      await stack.sweepOutbox();
      return (await stack.database.ownerDb('consultations').where({ id: booked.body.id }).first()).status === 'cancelled';
    });
    const events = await stack.database.ownerDb('consultation_events').where({ consultation_id: booked.body.id });
    expect(events.map((e: { type: string }) => e.type)).toEqual(['workflow_ended']);
    const log = await stack.database.ownerDb('audit_events').where({ target_id: booked.body.id, action: 'consultation.release_slot' });
    expect(log).toHaveLength(1);
    expect((await book(stack, c.staffToken, slot)).status).toBe(201);
    // Sweeping again changes nothing (idempotent).
    await stack.sweepOutbox();
    expect(await stack.database.ownerDb('audit_events').where({ target_id: booked.body.id, action: 'consultation.release_slot' })).toHaveLength(1);
  });
});

describe('dependencies that are down', () => {
  it('answers 503 service_unavailable with Retry-After when PostgreSQL is unreachable, never 500', async () => {
    const noDb = await stack.startExtraApi({ DATABASE_URL: 'postgres://app@127.0.0.1:1/none' });
    const login = await call(noDb.url, 'POST', '/v1/auth/login', { json: { tenant: 'any-clinic', loginId: 'someone', password: 'x'.repeat(16) } });
    expect(login.status).toBe(503);
    expect(login.body.code).toBe('service_unavailable');
    expect(login.headers.get('retry-after')).toBe('5');
    const tenants = await call(noDb.operatorUrl, 'GET', '/v1/operator/tenants', { token: stack.operatorToken });
    expect(tenants.status).toBe(503);
  });
});

const UNREACHABLE_CLIENT = 'unreachable';
function outboxFor(which?: typeof UNREACHABLE_CLIENT): WorkflowOutbox {
  const log = createLogger({ name: 'test', level: 'silent' });
  const client = stack.temporal.client;
  if (which === UNREACHABLE_CLIENT) {
    // A dispatcher whose every send fails: rows stay pending, as after a crash right after commit.
    return { dispatchCommitted: async () => ({ dispatched: 0, failed: 0, deferred: 0 }) } as unknown as WorkflowOutbox;
  }
  return new WorkflowOutbox({ db: stack.database.db, client, taskQueue: stack.config.TEMPORAL_TASK_QUEUE, log });
}
