import { fetchLocalEmails } from '../../lib/local-ses';
import { incidentReportWorkflowId } from '../../temporal/workflow-ids';
import { activate, clinicWithAdmin, createAccount, eventually, type Clinic } from '../harness/clinic';
import { call } from '../harness/http';
import { recordHistory } from '../harness/history';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * The clinics' side of notices over HTTP: the top screen's feed (what each clinic may see, read
 * marks per account, the kind filter), vulnerability notices' timelines, and incident reports.
 */
jest.setTimeout(120_000);

let stack: TestStack;
let a: { clinic: Clinic; token: string };
let b: { clinic: Clinic; token: string };
let aStaff: string;
beforeAll(async () => {
  stack = await startTestStack({ MAIL_SEND_RATE: '50', CHANGE_NOTICE_MIN_LEAD_SECONDS: '60' });
  a = await clinicWithAdmin(stack, 'feed-a');
  b = await clinicWithAdmin(stack, 'feed-b');
  const staff = await createAccount(stack, a.token, 'staff1', ['staff']);
  aStaff = await activate(stack, a.clinic, 'staff1', staff.initialPassword);
});
afterAll(async () => {
  await stack?.stop();
});

const op = (method: string, path: string, json?: unknown) => call(stack.operatorUrl, method, path, { token: stack.operatorToken, json });
const feed = async (token: string, query = '') => {
  const reply = await call(stack.url, 'GET', `/v1/notices${query}`, { token });
  expect(reply.status).toBe(200);
  return reply.body.items as Array<{ id: string; kind: string; read: boolean; status: string; messages: Array<{ status: string }> }>;
};

describe('the notices feed', () => {
  it('shows each clinic only its own incidents, with changes and vulnerabilities for everyone, and read marks per account', async () => {
    const incident = await op('POST', '/v1/operator/incidents', {
      title: 'Clinic A only',
      description: 'Only clinic A is affected.',
      severity: 'medium',
      affectedTenantIds: [a.clinic.id],
      detectedAt: new Date().toISOString(),
    });
    const change = await op('POST', '/v1/operator/change-notices', {
      title: 'Maintenance window',
      body: 'The service stops for 30 minutes.',
      effectiveAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      affectedTenantIds: 'all',
    });
    const vuln = await op('POST', '/v1/operator/vulnerability-notices', {
      title: 'OpenSSL advisory',
      cveIds: ['CVE-2026-12345'],
      component: 'TLS termination',
      severity: 'high',
      status: 'investigating',
      body: 'We are checking whether our load balancers are affected.',
    });
    expect([incident.status, change.status, vuln.status]).toEqual([202, 202, 201]);
    expect(vuln.body.reference).toMatch(/^VUL-\d{4}-\d{5}$/);

    // Incidents and changes appear once their fan-out reached the clinic.
    await eventually('clinic A sees the incident and the change', async () => (await feed(a.token)).length === 3, 60_000);
    await eventually('clinic B sees the change', async () => (await feed(b.token)).length === 2, 60_000);
    expect((await feed(a.token)).map((n) => n.kind).sort()).toEqual(['change', 'incident', 'vulnerability']);
    expect((await feed(b.token)).map((n) => n.id).sort()).toEqual([change.body.id, vuln.body.id].sort());
    expect(await feed(b.token, '?kind=incident')).toEqual([]);
    expect((await feed(a.token, '?kind=incident')).map((n) => n.id)).toEqual([incident.body.id]);

    // Another clinic's incident does not exist for B, even by id.
    expect((await call(stack.url, 'POST', `/v1/notices/${incident.body.id}/read`, { token: b.token })).status).toBe(404);
    // Read marks are per account.
    expect((await call(stack.url, 'POST', `/v1/notices/${incident.body.id}/read`, { token: a.token })).status).toBe(204);
    expect((await call(stack.url, 'POST', `/v1/notices/${incident.body.id}/read`, { token: a.token })).status).toBe(204);
    expect((await feed(a.token, '?kind=incident'))[0]!.read).toBe(true);
    expect((await feed(aStaff, '?kind=incident'))[0]!.read).toBe(false);

    // A vulnerability's status changes make its timeline; resolved ones leave the top screen.
    expect((await op('POST', `/v1/operator/vulnerability-notices/${vuln.body.id}/updates`, { status: 'mitigated', message: 'Patched.' })).status).toBe(200);
    expect((await op('POST', `/v1/operator/vulnerability-notices/${vuln.body.id}/updates`, { status: 'investigating' })).body.code).toBe('invalid_transition');
    const resolved = await op('POST', `/v1/operator/vulnerability-notices/${vuln.body.id}/updates`, { status: 'resolved' });
    expect(resolved.body.messages.map((m: { status: string }) => m.status)).toEqual(['investigating', 'mitigated', 'resolved']);
    expect((await feed(b.token)).map((n) => n.kind)).toEqual(['change']);
    expect((await feed(b.token, '?kind=vulnerability'))[0]!.messages.map((m) => m.status)).toEqual(['investigating', 'mitigated', 'resolved']);

    // Operators' actions are logged with the actor; none of this reached a clinic's own log as theirs.
    const actions = (await stack.database.ownerDb('platform_audit_events').select('action', 'actorType')).map((e: { action: string; actorType: string }) => `${e.actorType}:${e.action}`);
    expect(actions).toEqual(expect.arrayContaining(['operator:incident.declare', 'operator:change_notice.create', 'operator:vulnerability_notice.create', 'operator:vulnerability_notice.update']));
  });

  it('refuses bad cursors and kinds as the caller\'s 400, and needs a session', async () => {
    expect((await call(stack.url, 'GET', '/v1/notices?kind=gossip', { token: a.token })).body.code).toBe('validation_failed');
    expect((await call(stack.url, 'GET', '/v1/notices?cursor=nope', { token: a.token })).body.code).toBe('invalid_cursor');
    expect((await call(stack.url, 'GET', '/v1/notices')).status).toBe(401);
  });
});

describe('incident reports', () => {
  it('mails the report to the operators and an acknowledgement without the text to the contract address', async () => {
    const reply = await call(stack.url, 'POST', '/v1/incident-reports', {
      token: aStaff,
      json: { description: 'A USB stick with exported data is missing. 受付PCから紛失。', contact: '03-1234-5678 (Sato)' },
    });
    expect(reply.status).toBe(202);
    expect(reply.body.reference).toMatch(/^RPT-\d{4}-\d{5}$/);
    expect(await stack.temporal.client.workflow.getHandle(incidentReportWorkflowId(reply.body.id)).result()).toEqual({ recipients: 2, sent: 2, failed: 0 });
    await recordHistory(stack.temporal.client.workflow.getHandle(incidentReportWorkflowId(reply.body.id)), 'incident-report');
    // References restart per test database and the SES store is shared: this report's mails are the ones naming its id.
    const mails = (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.subject.includes(reply.body.reference) && (m.destination.to[0] === `contract@${a.clinic.slug}.example` || m.body.text!.includes(a.clinic.slug)));
    expect(mails.map((m) => m.destination.to[0]).sort()).toEqual([`contract@${a.clinic.slug}.example`, 'security@forclinic.example']);
    const toOperators = mails.find((m) => m.destination.to[0] === 'security@forclinic.example')!;
    expect(toOperators.body.text).toContain('A USB stick with exported data is missing');
    expect(toOperators.body.text).toContain('03-1234-5678 (Sato)');
    const ack = mails.find((m) => m.destination.to[0] !== 'security@forclinic.example')!;
    expect(ack.body.text).not.toContain('USB');
    expect(ack.body.text!.indexOf('受け付けました')).toBeLessThan(ack.body.text!.indexOf('We received'));
    // In the clinic's own operation log, naming who reported it.
    const entry = await stack.database.ownerDb('audit_events').where({ tenant_id: a.clinic.id, action: 'incident_report.create' }).first();
    expect(entry).toMatchObject({ actorType: 'account', targetId: reply.body.id });
    // Clinic B cannot see clinic A's report rows.
    expect(await stack.database.ownerDb('incident_reports').where({ tenant_id: b.clinic.id })).toEqual([]);
    // The contact is one line, as a name: quoted in the operators' mail, it must not forge lines of it.
    for (const contact of ['x\r\nBcc: evil@example.com', 'desk\u202Egnp.exe', 'tel\u200B110']) {
      const refused = await call(stack.url, 'POST', '/v1/incident-reports', { token: aStaff, json: { description: 'Another report.', contact } });
      expect([refused.status, refused.body.errors?.[0]?.field]).toEqual([400, 'contact']);
    }
  });

  it('holds each person to 5 reports an hour, even sent at once: the rest are 429 rate_limited with Retry-After, logged, and file nothing', async () => {
    const clinic = await clinicWithAdmin(stack, 'reports');
    const nurse = await createAccount(stack, clinic.token, 'nurse', ['staff']);
    const nurseToken = await activate(stack, clinic.clinic, 'nurse', nurse.initialPassword);
    const report = (token: string) => call(stack.url, 'POST', '/v1/incident-reports', { token, json: { description: 'Suspicious mail attachment opened.', contact: 'desk' } });
    const burst = await Promise.all(Array.from({ length: 8 }, () => report(nurseToken)));
    expect(burst.map((r) => r.status).sort()).toEqual([202, 202, 202, 202, 202, 429, 429, 429]);
    const refused = burst.find((r) => r.status === 429)!;
    expect(refused.body.code).toBe('rate_limited');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // Someone else in the clinic still can, even while the nurse floods it with refused reports:
    // her refusals never count against the clinic.
    const [colleague, ...flood] = await Promise.all([report(clinic.token), ...Array.from({ length: 30 }, () => report(nurseToken))]);
    expect(colleague.status).toBe(202);
    expect(new Set(flood.map((r) => r.status))).toEqual(new Set([429]));
    // Every refusal names the same wait, as a single one does (the burst's other refusals were given back).
    const single = Number((await report(nurseToken)).headers.get('retry-after'));
    for (const r of flood) expect(Math.abs(Number(r.headers.get('retry-after')) - single)).toBeLessThanOrEqual(2);
    const entries = await stack.database.ownerDb('audit_events').where({ tenant_id: clinic.clinic.id, action: 'incident_report.create' });
    expect(entries.map((e: { outcome: string }) => e.outcome).sort()).toEqual([...Array(3 + 30 + 1).fill('denied'), ...Array(6).fill('success')]);
    expect(await stack.database.ownerDb('incident_reports').where({ tenant_id: clinic.clinic.id }).count({ n: '*' })).toEqual([{ n: '6' }]);
  });
});
