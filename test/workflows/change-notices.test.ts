import { randomBytes } from 'node:crypto';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { activateTenant, insertTenant } from '../../db/tenants';
import { fetchLocalEmails, type StoredEmail } from '../../lib/local-ses';
import type { ChangeNoticeResult } from '../../workflows/change-notice';
import { eventually } from '../harness/clinic';
import { expectSetFor, eventsOf, recordHistory, timersIn } from '../harness/history';
import { call } from '../harness/http';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * Advance change notices on the dev server. Timer offsets follow test/workflows/timers.test.ts
 * (the time-skipping server cannot be obtained here): the default 7-day and 1-day lead times are
 * checked by the moment their timer was set for, read from the history; the sequence of mails is
 * seen fire with lead times of seconds (CHANGE_NOTICE_LEAD_SECONDS=8,4 on this stack; 8 s leave the first notice time to go out on a loaded machine).
 */
jest.setTimeout(120_000);

const DAY = 86_400_000;
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ MAIL_SEND_RATE: '50', CHANGE_NOTICE_LEAD_SECONDS: '8,4', CHANGE_NOTICE_MIN_LEAD_SECONDS: '10' });
});
afterAll(async () => {
  await stack?.stop();
});

async function clinic(tag: string, addresses?: string[]) {
  const slug = `${tag}-${randomBytes(3).toString('hex')}`;
  const contractEmails = addresses ?? [`a@${slug}.example`, `b@${slug}.example`];
  for (const a of contractEmails) ours.add(a);
  const t = await insertTenant(stack.database.db, { slug, name: `Clinic ${slug}`, contractEmails });
  await activateTenant(stack.database.db, t.id);
  return { id: t.id, addresses: t.contractEmails };
}
const announce = (base: string, json: Record<string, unknown>) => call(base, 'POST', '/v1/operator/change-notices', { token: stack.operatorToken, json: { title: 'Database upgrade', body: 'The service stops for 30 minutes.', ...json } });
/** This file's clinics' addresses: the SES store is shared by every test file, and references restart per database. */
const ours = new Set<string>();
const mailsFor = async (reference: string): Promise<StoredEmail[]> =>
  (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.subject.includes(reference) && m.destination.to.some((to) => ours.has(to)));
const handle = (id: string) => stack.temporal.client.workflow.getHandle(`change-notice/${id}`);

describe('advance change notices', () => {
  it('refuses a change announced less than the minimum lead time ahead with 400 too_late, unless urgent (flagged in mail and log)', async () => {
    const c = await clinic('late');
    const effectiveAt = new Date(Date.now() + 3_000).toISOString();
    const refused = await announce(stack.operatorUrl, { effectiveAt, affectedTenantIds: [c.id] });
    expect(refused.status).toBe(400);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.body.code).toBe('too_late');
    expect(await stack.database.ownerDb('notices').where({ kind: 'change' })).toEqual([]);

    const urgent = await announce(stack.operatorUrl, { effectiveAt: new Date(Date.now() + 9_000).toISOString(), affectedTenantIds: [c.id], urgent: true });
    expect(urgent.status).toBe(202);
    expect(((await handle(urgent.body.id).result()) as ChangeNoticeResult).outcome).toBe('effective');
    const mails = await mailsFor(urgent.body.reference);
    expect(mails.length).toBeGreaterThanOrEqual(2);
    expect(mails.every((m) => m.subject.includes('【緊急】') && m.body.text!.includes('[URGENT]'))).toBe(true);
    const entry = await stack.database.ownerDb('platform_audit_events').where({ target_id: urgent.body.id }).first();
    expect(entry.details).toMatchObject({ urgent: true });
  });

  it('mails at once and again at each lead time before the change, then ends when it takes effect', async () => {
    const c = await clinic('timed');
    const effectiveAt = Math.ceil((Date.now() + 16_000) / 1000) * 1000;
    const created = await announce(stack.operatorUrl, { effectiveAt: new Date(effectiveAt).toISOString(), affectedTenantIds: [c.id] });
    expect(created.status).toBe(202);
    const result = (await handle(created.body.id).result()) as ChangeNoticeResult;
    expect(result).toMatchObject({ outcome: 'effective', reminders: 2, sent: 6, failed: 0 });
    await recordHistory(handle(created.body.id), 'change-notice-effective');
    // The reminders' timers were set for exactly 8 s and 4 s before the change; the last for the change itself.
    const timers = timersIn(await eventsOf(handle(created.body.id)));
    expectSetFor(timers[0], effectiveAt - 8_000);
    expectSetFor(timers[1], effectiveAt - 4_000);
    expectSetFor(timers.at(-1), effectiveAt);
    const toA = (await mailsFor(created.body.reference)).filter((m) => m.destination.to[0] === c.addresses[0]).sort((x, y) => x.at - y.at);
    expect(toA.map((m) => (m.subject.includes('リマインド') ? 'reminder' : 'notice'))).toEqual(['notice', 'reminder', 'reminder']);
    // The local SES stamps mails in whole seconds.
    expect(toA[1]!.at * 1000).toBeGreaterThanOrEqual(effectiveAt - 8_000 - 1_000);
    expect(toA[2]!.at * 1000).toBeGreaterThanOrEqual(effectiveAt - 4_000 - 1_000);
    expect(toA[2]!.at * 1000).toBeLessThan(effectiveAt);
    const view = await call(stack.operatorUrl, 'GET', `/v1/operator/change-notices/${created.body.id}`, { token: stack.operatorToken });
    expect(view.body).toMatchObject({ status: 'effective', totals: { clinics: 1, sent: 6, failed: 0, pending: 0 } });
  });

  it('does not mail a reminder whose lead time passed while the first notice was still going out', async () => {
    // A first fan-out to thousands of addresses at the mail rate takes minutes; a lead time that
    // passes meanwhile is covered by the first notice (as one already past at the start is).
    const c = await clinic('slow');
    const effectiveAt = Math.ceil((Date.now() + 11_000) / 1000) * 1000;
    const firstLead = effectiveAt - 8_000;
    await stack.stopMailWorker();
    let id = '';
    let reference = '';
    try {
      const created = await announce(stack.operatorUrl, { effectiveAt: new Date(effectiveAt).toISOString(), affectedTenantIds: [c.id] });
      expect(created.status).toBe(202);
      id = created.body.id;
      reference = created.body.reference;
      // The first notice waits on the mail queue (every mail worker down) until the 8-s lead time is past.
      await eventually('the first fan-out has begun', async () => (await eventsOf(handle(id))).some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes));
      await eventually('the 8-s lead time has passed', async () => Date.now() > firstLead + 200);
    } finally {
      await stack.startMailWorker();
    }
    const result = (await handle(id).result()) as ChangeNoticeResult;
    await recordHistory(handle(id), 'change-notice-slow-first-notice');
    // The workflow's clock when the first fan-out had finished: the task that saw its child complete.
    const events = await eventsOf(handle(id));
    const done = events.findIndex((e) => e.childWorkflowExecutionCompletedEventAttributes);
    const started = events.slice(done).find((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED)!;
    const firstDoneAt = tsToMs(started.eventTime);
    expect(firstDoneAt).toBeGreaterThan(firstLead);
    const due = [firstLead, effectiveAt - 4_000].filter((at) => at > firstDoneAt).length;
    expect(result).toMatchObject({ outcome: 'effective', reminders: due, failed: 0 });
    const toA = (await mailsFor(reference)).filter((m) => m.destination.to[0] === c.addresses[0]);
    expect(toA.map((m) => (m.subject.includes('リマインド') ? 'reminder' : 'notice')).sort()).toEqual(['notice', ...Array<string>(due).fill('reminder')]);
  });

  it('with the default lead times sets the first timer 7 days before the change; DELETE mails a cancellation to whoever had been told', async () => {
    // Another API process of the same deployment with the default lead times and minimum.
    const api = await stack.startExtraApi({ CHANGE_NOTICE_LEAD_SECONDS: '', CHANGE_NOTICE_MIN_LEAD_SECONDS: '' });
    const told = await clinic('told');
    const half = await clinic('half');
    await stack.database.ownerDb('tenants').where({ id: half.id }).update({ contract_emails: ['refused address', half.addresses[1]] });
    expect((await announce(api.operatorUrl, { effectiveAt: new Date(Date.now() + 6 * DAY).toISOString(), affectedTenantIds: [told.id] })).body.code).toBe('too_late');
    const effectiveAt = Math.ceil((Date.now() + 10 * DAY) / 1000) * 1000;
    const created = await announce(api.operatorUrl, { effectiveAt: new Date(effectiveAt).toISOString(), affectedTenantIds: [told.id, half.id] });
    expect(created.status).toBe(202);
    await eventually('the first notice went out', async () => (await mailsFor(created.body.reference)).length === 3, 60_000);
    // The first lead time's timer: 7 days before the change, read from the history.
    let timers = timersIn(await eventsOf(handle(created.body.id)));
    await eventually('the 7-day timer is set', async () => (timers = timersIn(await eventsOf(handle(created.body.id)))).length === 1);
    expectSetFor(timers[0], effectiveAt - 7 * DAY);

    const cancelled = await call(api.operatorUrl, 'DELETE', `/v1/operator/change-notices/${created.body.id}`, { token: stack.operatorToken });
    expect(cancelled.status).toBe(202);
    expect((await call(api.operatorUrl, 'DELETE', `/v1/operator/change-notices/${created.body.id}`, { token: stack.operatorToken })).body.code).toBe('invalid_transition');
    expect(await handle(created.body.id).result()).toMatchObject({ outcome: 'cancelled', reminders: 0 });
    await recordHistory(handle(created.body.id), 'change-notice-cancelled');
    const mails = await mailsFor(created.body.reference);
    const cancellations = mails.filter((m) => m.subject.includes('変更の中止')).map((m) => m.destination.to[0]).sort();
    // Everyone who was told, and nobody who was not (the refused address never was).
    expect(cancellations).toEqual([...told.addresses, half.addresses[1]].sort());
    timers = timersIn(await eventsOf(handle(created.body.id)));
    expect(timers[0]!.canceled).toBe(true);
  });
});
