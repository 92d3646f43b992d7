import { randomBytes } from 'node:crypto';
import { insertTenant, activateTenant } from '../../db/tenants';
import { fetchLocalEmails, type StoredEmail } from '../../lib/local-ses';
import { call } from '../harness/http';
import { eventually } from '../harness/clinic';
import { recordHistory } from '../harness/history';
import { startTestStack, type TestStack } from '../harness/stack';
import type { IncidentWorkflowResult } from '../../workflows/incident';

/**
 * Incident notification end to end: the operator API, the workflow outbox, the incident
 * workflow with its child batches, the rate-limited mail queue, the exactly-once mail activity
 * and the local SES, on the shared dev server. Mails are counted in the SES store after the
 * workflow has ended.
 */
jest.setTimeout(120_000);

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ MAIL_SEND_RATE: '50' });
});
afterAll(async () => {
  await stack?.stop();
});

const op = (method: string, path: string, json?: unknown) => call(stack.operatorUrl, method, path, { token: stack.operatorToken, json });

/** Clinics with two contract addresses each, made directly (no provisioning mails in the way). */
async function clinics(n: number, tag: string): Promise<Array<{ id: string; addresses: string[] }>> {
  const out = [];
  for (let i = 0; i < n; i += 1) {
    const slug = `${tag}-${i}-${randomBytes(3).toString('hex')}`;
    const addresses = [`a@${slug}.example`, `b@${slug}.example`];
    for (const a of addresses) ours.add(a);
    const t = await insertTenant(stack.database.db, { slug, name: `クリニック ${slug}`, contractEmails: addresses });
    await activateTenant(stack.database.db, t.id);
    out.push({ id: t.id, addresses });
  }
  return out;
}

/** This file's clinics' addresses: the SES store is shared by every test file, and references restart per database. */
const ours = new Set<string>();
const mailsFor = async (reference: string): Promise<StoredEmail[]> =>
  (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.subject.includes(reference) && m.destination.to.some((to) => ours.has(to)));
const countBy = (mails: StoredEmail[]) => {
  const counts: Record<string, number> = {};
  for (const m of mails) counts[m.destination.to[0]!] = (counts[m.destination.to[0]!] ?? 0) + 1;
  return counts;
};
const result = (workflowId: string) => stack.temporal.client.workflow.getHandle(workflowId).result() as Promise<IncidentWorkflowResult>;

async function declare(affected: string[] | 'all', title = 'Unauthorised access to a storage bucket') {
  const reply = await op('POST', '/v1/operator/incidents', {
    title,
    description: 'A misconfigured bucket exposed encrypted backups for 2 hours. No keys were exposed.',
    severity: 'high',
    affectedTenantIds: affected,
    detectedAt: new Date(Date.now() - 3_600_000).toISOString(),
  });
  expect(reply.status).toBe(202);
  expect(reply.body).toEqual({ id: expect.any(String), reference: expect.stringMatching(/^INC-\d{4}-\d{5}$/), workflowId: `incident/${reply.body.id}` });
  return reply.body as { id: string; reference: string; workflowId: string };
}

describe('incident notification', () => {
  it('reaches exactly the contract addresses of the 3 affected clinics of 5, once each, follow-ups to the same set, and ends when resolved', async () => {
    const all = await clinics(5, 'inc');
    const affected = all.slice(0, 3);
    const incident = await declare(affected.map((c) => c.id));
    // The operator finds it in the Temporal UI by its search attributes.
    const described = await stack.temporal.client.workflow.getHandle(incident.workflowId).describe();
    expect(described.typedSearchAttributes.getAll().map((p) => [p.key.name, p.value])).toEqual(expect.arrayContaining([['IncidentId', incident.id], ['Severity', 'high']]));

    await eventually('the first notice reached everyone', async () => (await mailsFor(incident.reference)).length === 6, 60_000);
    expect((await op('POST', `/v1/operator/incidents/${incident.id}/updates`, { status: 'contained', message: '公開設定を修正しました。 The bucket is private again.' })).status).toBe(202);
    expect((await op('POST', `/v1/operator/incidents/${incident.id}/updates`, { status: 'resolved', message: '調査を完了しました。 Investigation complete.' })).status).toBe(202);
    const done = await result(incident.workflowId);
    expect(done).toMatchObject({ outcome: 'resolved', messages: 3, sent: 18, failed: 0 });

    const mails = await mailsFor(incident.reference);
    const expected = Object.fromEntries(affected.flatMap((c) => c.addresses.map((a) => [a, 3])));
    expect(countBy(mails)).toEqual(expected);
    // Japanese first, then English; the reference, what is known, what to do and where to ask.
    const first = mails.find((m) => m.destination.to[0] === affected[0]!.addresses[0] && !m.subject.includes('続報'))!;
    const text = first.body.text!;
    expect(text.indexOf('参照番号')).toBeLessThan(text.indexOf('Reference:'));
    expect(text).toContain('A misconfigured bucket exposed encrypted backups');
    expect(text).toContain('貴院にお願いしたいこと');
    expect(text).toContain('security@forclinic.example');
    // The resolved incident takes no more updates.
    expect((await op('POST', `/v1/operator/incidents/${incident.id}/updates`, { status: 'resolved', message: 'again' })).body.code).toBe('incident_resolved');

    const view = await op('GET', `/v1/operator/incidents/${incident.id}`);
    expect(view.status).toBe(200);
    expect(view.body.totals).toEqual({ clinics: 3, pending: 0, sent: 18, failed: 0 });
    // The list gives each notice of its page the same totals (read for the whole page in one statement).
    const listed: Array<{ id: string; totals: unknown }> = [];
    for (let cursor: string | null = null, first = true; first || cursor; first = false) {
      const page = await op('GET', `/v1/operator/incidents?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      listed.push(...page.body.items);
      cursor = page.body.nextCursor;
    }
    expect(listed.find((n) => n.id === incident.id)?.totals).toEqual(view.body.totals);
    expect(view.body.clinics.map((c: { tenantId: string }) => c.tenantId).sort()).toEqual(affected.map((c) => c.id).sort());
    expect(view.body.messages.map((m: { kind: string; status: string }) => [m.kind, m.status])).toEqual([['initial', 'investigating'], ['update', 'contained'], ['update', 'resolved']]);
    // Every operator action is in the operators' log, naming the actor.
    const log = await stack.database.ownerDb('platform_audit_events').where({ target_id: incident.id }).orderBy('occurred_at');
    expect(log.map((e: { action: string; actorType: string; actorId: string; actorName: string }) => [e.action, e.actorType, e.actorId, e.actorName])).toEqual([
      ['incident.declare', 'operator', 'break-glass', 'break-glass'],
      ['incident.update', 'operator', 'break-glass', 'break-glass'],
      ['incident.update', 'operator', 'break-glass', 'break-glass'],
    ]);

    // The histories hold ids and counters only: no title, description, update text or address.
    const ids = [incident.workflowId, ...(await childIds(incident.workflowId))];
    expect(ids.length).toBeGreaterThan(1);
    await recordHistory(stack.temporal.client.workflow.getHandle(incident.workflowId), 'incident-resolved');
    await recordHistory(stack.temporal.client.workflow.getHandle(ids[1]!), 'notice-batch');
    for (const id of ids) {
      const history = JSON.stringify(await stack.temporal.client.workflow.getHandle(id).fetchHistory());
      for (const secret of ['misconfigured bucket', 'Unauthorised access', 'bucket is private', '公開設定', 'Investigation complete', '.example']) expect([id, history.includes(secret)]).toEqual([id, false]);
    }
  });

  it('records a permanently refused address as failed and still reaches everyone else', async () => {
    const [good, bad] = await clinics(2, 'refused');
    await stack.database.ownerDb('tenants').where({ id: bad!.id }).update({ contract_emails: ['not an address', bad!.addresses[1]] });
    const incident = await declare([good!.id, bad!.id]);
    await op('POST', `/v1/operator/incidents/${incident.id}/updates`, { status: 'resolved', message: 'closed' });
    const done = await result(incident.workflowId);
    expect(done).toMatchObject({ outcome: 'resolved', sent: 6, failed: 2 });
    expect(countBy(await mailsFor(incident.reference))).toEqual({ [good!.addresses[0]!]: 2, [good!.addresses[1]!]: 2, [bad!.addresses[1]!]: 2 });
    const view = await op('GET', `/v1/operator/incidents/${incident.id}`);
    const badClinic = view.body.clinics.find((c: { tenantId: string }) => c.tenantId === bad!.id);
    expect(badClinic.deliveries.filter((d: { address: string }) => d.address === 'not an address').map((d: { status: string; error: string }) => [d.status, d.error])).toEqual([
      ['failed', 'InvalidAddress'],
      ['failed', 'InvalidAddress'],
    ]);
    expect(view.body.totals).toMatchObject({ sent: 6, failed: 2, pending: 0 });
  });

  it('gives a clinic added later every earlier message, in order, and the later ones', async () => {
    const [first, late] = await clinics(2, 'late');
    const incident = await declare([first!.id]);
    await op('POST', `/v1/operator/incidents/${incident.id}/updates`, { status: 'investigating', message: 'Update one' });
    await eventually('two messages reached the first clinic', async () => (await mailsFor(incident.reference)).length === 4, 60_000);
    // The operator's live view counts clinics (not positions in the table shared by all notices).
    const live = async () => (await op('GET', `/v1/operator/incidents/${incident.id}`)).body.live as { phase: string; clinicsCovered: number; messagesSent: number } | null;
    await eventually('the workflow waits, one clinic covered', async () => (await live())?.phase === 'waiting');
    expect(await live()).toMatchObject({ clinicsCovered: 1, messagesSent: 2 });
    const added = await op('PATCH', `/v1/operator/incidents/${incident.id}`, { affectedTenantIds: [late!.id, first!.id] });
    expect(added.body).toEqual({ id: incident.id, added: 1 });
    await eventually('the late clinic is covered', async () => (await live())?.clinicsCovered === 2, 60_000);
    await op('POST', `/v1/operator/incidents/${incident.id}/updates`, { status: 'resolved', message: 'Update two' });
    expect(await result(incident.workflowId)).toMatchObject({ outcome: 'resolved', messages: 3, sent: 12 });
    await recordHistory(stack.temporal.client.workflow.getHandle(incident.workflowId), 'incident-late-clinic');
    const lateMails = (await mailsFor(incident.reference)).filter((m) => m.destination.to[0] === late!.addresses[0]).sort((a, b) => a.at - b.at);
    expect(lateMails).toHaveLength(3);
    expect(lateMails[0]!.subject).toContain('セキュリティインシデントのお知らせ');
    expect(lateMails[1]!.body.text).toContain('Update one');
    expect(lateMails[2]!.body.text).toContain('Update two');
    expect((await op('PATCH', `/v1/operator/incidents/${incident.id}`, { affectedTenantIds: ['00000000-0000-4000-8000-000000000009'] })).body.code).toBe('incident_resolved');
  });

  it('mails an update posted after the incident\'s run was terminated: the change starts a new run, which sends only what is missing', async () => {
    const [clinic] = await clinics(1, 'gone');
    const incident = await declare([clinic!.id]);
    await eventually('the first message reached both addresses', async () => (await mailsFor(incident.reference)).length === 2, 60_000);
    const handle = stack.temporal.client.workflow.getHandle(incident.workflowId);
    await handle.terminate('stopped by an operator');
    // Before: accepted (202), its signal refused as "workflow gone", never mailed.
    expect((await op('POST', `/v1/operator/incidents/${incident.id}/updates`, { status: 'investigating', message: 'After the stop' })).status).toBe(202);
    await eventually('the update reached both addresses', async () => (await mailsFor(incident.reference)).filter((m) => m.body.text?.includes('After the stop')).length === 2, 60_000);
    expect((await op('POST', `/v1/operator/incidents/${incident.id}/updates`, { status: 'resolved', message: 'Done' })).status).toBe(202);
    expect(await result(incident.workflowId)).toMatchObject({ outcome: 'resolved' });
    // The first message was not sent again by the new run.
    expect(countBy(await mailsFor(incident.reference))).toEqual(Object.fromEntries(clinic!.addresses.map((a) => [a, 3])));
  });

  it('refuses unknown clinics by name, and answers 404 for an unknown incident', async () => {
    const [clinic] = await clinics(1, 'refs');
    const before = await declare([clinic!.id], 'Before a refused declaration');
    const reply = await op('POST', '/v1/operator/incidents', { title: 't', description: 'd', severity: 'low', affectedTenantIds: ['00000000-0000-4000-8000-000000000009'], detectedAt: new Date().toISOString() });
    expect(reply.status).toBe(400);
    expect(reply.headers.get('content-type')).toContain('application/problem+json');
    expect(reply.body.errors[0].message).toContain('00000000-0000-4000-8000-000000000009');
    expect((await op('GET', '/v1/operator/incidents/00000000-0000-4000-8000-000000000009')).status).toBe(404);
    // The refused declaration took no number: the register of incidents has no gap.
    const after = await declare([clinic!.id], 'After a refused declaration');
    const number = (reference: string) => Number(reference.split('-')[2]);
    expect(number(after.reference)).toBe(number(before.reference) + 1);

    // The list finds them without their ids: newest first, a page at a time, open ones on request.
    const listed = await op('GET', '/v1/operator/incidents?limit=1');
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual([expect.objectContaining({ id: after.id, reference: after.reference, kind: 'incident', status: 'investigating', closedAt: null, workflowId: after.workflowId, totals: expect.objectContaining({ clinics: 1 }) })]);
    const next = await op('GET', `/v1/operator/incidents?limit=1&cursor=${listed.body.nextCursor}`);
    expect(next.body.items.map((i: { id: string }) => i.id)).toEqual([before.id]);
    expect((await op('POST', `/v1/operator/incidents/${before.id}/updates`, { status: 'resolved', message: 'closed' })).status).toBe(202);
    expect(await result(before.workflowId)).toMatchObject({ outcome: 'resolved' });
    const open = (await op('GET', '/v1/operator/incidents?open=true&limit=100')).body.items.map((i: { id: string }) => i.id);
    expect([open.includes(after.id), open.includes(before.id)]).toEqual([true, false]);
    expect((await op('GET', '/v1/operator/incidents?cursor=bogus&limit=1')).body.code).toBe('invalid_cursor');
    expect((await op('POST', `/v1/operator/incidents/${after.id}/updates`, { status: 'resolved', message: 'closed' })).status).toBe(202);
    expect(await result(after.workflowId)).toMatchObject({ outcome: 'resolved' });
  });
});

/** Child workflows of a run (the batches), from its history. */
async function childIds(workflowId: string): Promise<string[]> {
  const history = await stack.temporal.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((e) => (e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ? [e.startChildWorkflowExecutionInitiatedEventAttributes.workflowId] : []));
}
