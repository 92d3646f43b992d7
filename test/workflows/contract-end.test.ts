import { createHash, createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { createDb } from '../../db/connection';
import { lockClinicState, withTenant } from '../../db/tenant-scope';
import { createKeyProvider } from '../../lib/crypto/provider';
import { Vault } from '../../lib/crypto/vault';
import { createBackupStore } from '../../lib/storage/backup-store';
import { restoreToScratch } from '../harness/restore';
import { fetchLocalEmails, type StoredEmail } from '../../lib/local-ses';
import { contractEndWorkflowId } from '../../temporal/workflow-ids';
import { canonicalJson } from '../../domain/canonical-json';
import { formatJapanDateTime } from '../../domain/japan-time';
import type { ContractEndResult } from '../../workflows/contract-end';
import { contractEndProgressQuery } from '../../workflows/contract-end-messages';
import { clinicWithAdmin, createAccount, eventually, STRONG_PASSWORD } from '../harness/clinic';
import { eventsOf, recordHistory } from '../harness/history';
import { book, bookingClinic, created, furnishClinic } from '../harness/consultations';
import { WALK_IN_RULES, runningSlot, slotOn } from '../harness/slots';
import { operationsOf } from '../harness/fuzz';
import { call } from '../harness/http';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * Contract end on the real stack (PostgreSQL, Temporal dev server, local SES, local-kms), with
 * durations of seconds from configuration: a reminder 4 s before the end, a grace of 3 s, and 5 s
 * of notice between lifting a legal hold and the purge.
 */
jest.setTimeout(180_000);

const CERTIFICATE_KEY = randomBytes(32).toString('hex');
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({
    CONTRACT_NOTICE_LEAD_SECONDS: '4',
    CONTRACT_GRACE_SECONDS: '3',
    CONTRACT_HOLD_RELEASE_NOTICE_SECONDS: '5',
    PURGE_BATCH_ROWS: '100',
    // Visits days ahead are checked in below: check-in opens with the video room when that is earlier
    // than the visit's day (domain/consultation.ts checkInOpensAt).
    JOIN_WINDOW_BEFORE_SECONDS: String(7 * 86_400),
    DELETION_CERTIFICATE_KEY: CERTIFICATE_KEY,
  });
});
afterAll(async () => {
  await stack?.stop();
});

const op = (method: string, p: string, json?: unknown) => call(stack.operatorUrl, method, p, { token: stack.operatorToken, json });
const setEnd = (id: string, at: Date | null) => op('PATCH', `/v1/operator/tenants/${id}`, { contractEndsAt: at?.toISOString() ?? null });
const handle = (id: string) => stack.temporal.client.workflow.getHandle(contractEndWorkflowId(id));
const mailsTo = async (address: string): Promise<StoredEmail[]> => (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.destination.to.includes(address));
const subjects = async (address: string) => (await mailsTo(address)).map((m) => m.subject);
/** Whether a mail with this in its subject names this moment: subjects say it in Japan time to the minute, bodies in UTC too. */
const mailNaming = async (address: string, subject: string, at: Date) => (await mailsTo(address)).filter((m) => m.subject.includes(subject) && (m.body.text ?? '').includes(at.toISOString()));

/** Every table with a tenant_id column, from the catalog, and the clinic's rows in each. */
async function rowsPerTable(tenantId: string): Promise<Record<string, number>> {
  const tables = await stack.database.ownerDb.raw(
    `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
      where n.nspname = 'public' and c.relkind in ('r', 'p') order by 1`,
  );
  const counts: Record<string, number> = {};
  for (const { name } of tables.rows as Array<{ name: string }>) {
    const { rows } = await stack.database.ownerDb.raw(`select count(*)::int as n from "${name}" where tenant_id = ?`, [tenantId]);
    counts[name] = rows[0].n;
  }
  return counts;
}

async function objectsOf(tenantId: string): Promise<string[]> {
  const dir = path.join(stack.config.STORAGE_DIR, 'tenants', tenantId);
  return (await readdir(dir, { recursive: true }).catch(() => [] as string[])).filter((f) => f.includes('files/') || f.includes('.'));
}

describe('contract end', () => {
  it('notices, read-only after the end, legal hold, then purge with crypto-shredding and a signed certificate', async () => {
    const c = await bookingClinic(stack);
    const { fileId, consultationId } = await furnishClinic(stack, c, 'end');
    const tenantId = c.clinic.id;
    const contract = `contract@${c.clinic.slug}.example`;
    // Checked in already (the window above opens it days ahead): not begun, so the end cancels it as it does a reservation.
    expect((await call(stack.url, 'POST', `/v1/consultations/${consultationId}/check-in`, { token: c.staffToken })).status).toBe(200);
    // A walk-in checked in before the end: begun, so the end leaves it open, with no timer left.
    // The purge ends its workflow (else it would wait for ever after its row is gone).
    const walkIns = await call(stack.url, 'POST', '/v1/practitioners', { token: c.adminToken, json: { displayName: '当直医', slotMinutes: 5, rules: WALK_IN_RULES } });
    const walkInStart = runningSlot();
    const walkIn = await created(await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: walkIns.body.id, startsAt: walkInStart, mode: 'in_person' }), 'walk-in');
    expect((await call(stack.url, 'POST', `/v1/consultations/${walkIn}/check-in`, { token: c.staffToken })).status).toBe(200);
    // An account that never signs in: its onboarding waits 72 h for the first login, and the purge ends it too.
    await createAccount(stack, c.adminToken, 'never', ['staff']);

    // In the last 30 s of a slot the walk-in is the next one, starting within them: the end comes after it.
    const endsAt = new Date(Math.max(Date.now() + 7_000, Date.parse(walkInStart) + 1_000));
    const set = await setEnd(tenantId, endsAt);
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ contractEndsAt: endsAt.toISOString(), contractState: 'ending', legalHold: null });
    // A hold placed during the notice period keeps the data after the grace, until lifted.
    const hold = await op('POST', `/v1/operator/tenants/${tenantId}/legal-hold`, { reason: 'litigation hold (case 2027-12)' });
    expect(hold.status).toBe(200);
    expect(hold.body.legalHold.reason).toBe('litigation hold (case 2027-12)');
    // Placed again: the same reason changes nothing; another amends the reason, and the hold keeps its start.
    expect((await op('POST', `/v1/operator/tenants/${tenantId}/legal-hold`, { reason: 'litigation hold (case 2027-12)' })).body.legalHold).toEqual(hold.body.legalHold);
    const amended = await op('POST', `/v1/operator/tenants/${tenantId}/legal-hold`, { reason: 'litigation hold (cases 2027-12, 2027-13)' });
    expect(amended.body.legalHold).toEqual({ reason: 'litigation hold (cases 2027-12, 2027-13)', since: hold.body.legalHold.since });
    const logged = await stack.database.ownerDb('platform_audit_events').where({ target_id: tenantId }).whereLike('action', 'tenant.legal_hold.%').orderBy('seq');
    expect(logged.map((a: { action: string; details: Record<string, unknown> }) => [a.action, a.details.previousReason ?? null])).toEqual([
      ['tenant.legal_hold.place', null],
      ['tenant.legal_hold.amend', 'litigation hold (case 2027-12)'],
    ]);

    // Announcement at once, the reminder 4 s before the end, the end's own notice; Japanese first, English below.
    await eventually('the end notice', async () => (await subjects(contract)).some((s) => s.includes('読み取り専用')), 60_000);
    const notices = await mailsTo(contract);
    const announced = notices.filter((m) => m.subject.includes('ご契約終了のお知らせ'));
    expect(announced).toHaveLength(2);
    const text = announced[0]!.body.text!;
    expect(text.indexOf('ご契約は')).toBeGreaterThan(0);
    expect(text.indexOf('ご契約は')).toBeLessThan(text.indexOf('The FOR CLINIC contract'));
    expect(text).toContain('POST /v1/exports');

    // Read-only: reads work, writes answer 403 contract_ended, signing out stays possible.
    const tenant = await op('GET', `/v1/operator/tenants/${tenantId}`);
    expect(tenant.body.contractState).toBe('read_only');
    // Through the grace, what the run waits for is named as the hold, not a purge date that will not hold.
    await eventually('the next step planned after the end', async () => (await handle(tenantId).query(contractEndProgressQuery)).next?.kind !== 'end', 30_000);
    expect((await handle(tenantId).query(contractEndProgressQuery)).next?.kind).toBe('legal_hold');
    const write = await call(stack.url, 'POST', '/v1/groups', { token: c.adminToken, json: { name: 'late group' } });
    expect(write.status).toBe(403);
    expect(write.body.code).toBe('contract_ended');
    expect((await call(stack.url, 'GET', '/v1/patients', { token: c.staffToken })).status).toBe(200);
    expect((await call(stack.url, 'GET', `/v1/consultations?from=${new Date().toISOString().slice(0, 10)}`, { token: c.staffToken })).status).toBeLessThan(500);
    // The booking of tomorrow (after the end) was cancelled through its workflow, and the clinic told.
    await eventually('the booking cancelled', async () => (await stack.database.ownerDb('consultations').where({ id: consultationId }).first()).status === 'cancelled');
    await eventually('the cancellation notice', async () => (await subjects(contract)).some((s) => s.includes('予約 1 件をキャンセル')));
    // With its reason, sealed like a clinic's own, so the clinic's records (and export) say why.
    const cancelled = await stack.database.ownerDb('consultations').where({ id: consultationId }).first();
    expect((await stack.database.ownerDb('consultations').where({ id: walkIn }).first()).status).toBe('checked_in');
    expect(await new Vault(stack.database.db, createKeyProvider(stack.config)).decryptText(tenantId, `consultations.cancelReason:${cancelled.id}`, cancelled.cancelReasonSealed)).toContain('契約終了');

    // The grace (3 s) ends; the hold keeps the purge waiting.
    await eventually('the purge waiting for the hold', async () => (await handle(tenantId).query(contractEndProgressQuery)).next?.kind === 'legal_hold', 30_000);
    expect((await op('GET', `/v1/operator/tenants/${tenantId}`)).body.contractState).toBe('read_only');
    const waiting = await op('GET', `/v1/operator/tenants/${tenantId}/contract-end`);
    expect(waiting.body).toMatchObject({ contractState: 'read_only', contractEndsAt: endsAt.toISOString(), live: { next: { kind: 'legal_hold' }, legalHold: true } });
    expect(waiting.body.legalHold.reason).toContain('litigation hold');

    // A failed sign-in leaves counters keyed by the clinic's id (not a clinic table: the purge forgets them apart).
    expect((await call(stack.url, 'POST', '/v1/auth/login', { json: { tenant: c.clinic.slug, loginId: 'admin', password: 'not-the-password' } })).status).toBe(401);
    const counters = () => stack.database.ownerDb('rate_limits').whereLike('key', `%${tenantId}%`).pluck('key');
    expect((await counters()).length).toBeGreaterThan(0);

    // What exists now is what the certificate must list; and an old backup's view of the keys.
    const before = await rowsPerTable(tenantId);
    expect(before.patients).toBe(1);
    expect(before.audit_events).toBeGreaterThan(0);
    expect(await objectsOf(tenantId)).toHaveLength(1);
    const [dataKey] = await stack.database.ownerDb('data_keys').where({ tenant_id: tenantId, purpose: 'data' });
    const masterKeys = (await stack.database.ownerDb('tenant_master_keys').where({ tenant_id: tenantId })).map((k: { id: string }) => k.id);
    const provider = createKeyProvider(stack.config);
    expect((await provider.unwrapDataKey(tenantId, dataKey.masterKeyId, 'data', dataKey.wrapped)).length).toBe(32);
    // A real backup generation taken now, with the clinic in it.
    const backup = await op('POST', '/v1/operator/backups');
    expect(backup.status).toBe(202);
    await stack.temporal.client.workflow.getHandle(backup.body.workflowId).result();

    // Lifting the hold resumes the workflow, but not into the purge at once (the grace is long
    // over): the clinic is told the date, the notice period runs, then the purge runs to the end.
    const liftedAt = Date.now();
    expect((await op('DELETE', `/v1/operator/tenants/${tenantId}/legal-hold`)).body.legalHold).toBeNull();
    // The log says what was lifted and since when it had stood.
    const [lift] = await stack.database.ownerDb('platform_audit_events').where({ action: 'tenant.legal_hold.lift', target_id: tenantId });
    expect(lift.details).toEqual({ reason: 'litigation hold (cases 2027-12, 2027-13)', heldSince: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/) });
    await eventually('the hold-lifted notice', async () => (await subjects(contract)).some((s) => s.includes('保留が解除されました')));
    const liftNotice = (await mailsTo(contract)).find((m) => m.subject.includes('保留が解除されました'))!;
    // The body gives the moment in UTC too; the subject says it in Japan time.
    const purgeDate = new Date(liftNotice.body.text!.match(/At \S+ \S+ Japan time \((\S+)\) all of its data/)![1]!).getTime();
    expect(liftNotice.subject).toMatch(/deleted at \d{4}-\d{2}-\d{2} \d{2}:\d{2} Japan time$/);
    expect(purgeDate).toBeGreaterThanOrEqual(liftedAt + 5_000 - 1_000);
    expect(liftNotice.body.text).toContain('POST /v1/exports');
    // The operator sees the new date (GET …/contract-end answers from the workflow's own query).
    await eventually('the purge planned for that date', async () => (await op('GET', `/v1/operator/tenants/${tenantId}/contract-end`)).body.live?.next?.at === new Date(purgeDate).toISOString());
    expect((await op('GET', `/v1/operator/tenants/${tenantId}/contract-end`)).body).toMatchObject({
      contractState: 'read_only',
      legalHold: null,
      workflowId: contractEndWorkflowId(tenantId),
      live: { next: { kind: 'purge' }, legalHold: false },
    });
    expect((await op('GET', `/v1/operator/tenants/${tenantId}`)).body.contractState).toBe('read_only');
    const result = (await handle(tenantId).result()) as ContractEndResult;
    expect(result.outcome).toBe('purged');
    const purgeStarted = await stack.database.ownerDb('platform_audit_events').where({ target_id: tenantId, action: 'contract.purge_started' }).first();
    expect(new Date(purgeStarted.occurredAt).getTime()).toBeGreaterThanOrEqual(purgeDate - 1_000);
    await recordHistory(handle(tenantId), 'contract-end-held-lifted-with-notice-then-purged');

    // The walk-in's workflow was ended by the purge, not left running; so was every other workflow of the clinic.
    expect((await stack.temporal.client.workflow.getHandle(`consultation/${walkIn}`).describe()).status.name).toBe('TERMINATED');
    const stillRunning = async () => {
      const ids: string[] = [];
      for await (const w of stack.temporal.client.workflow.list({ query: `TenantId = '${tenantId}' AND ExecutionStatus = 'Running'` })) ids.push(w.workflowId);
      return ids;
    };
    await eventually('no workflow of the clinic running', async () => (await stillRunning()).length === 0);
    // No row of the clinic in any table with a tenant_id, no object, no key.
    const after = await rowsPerTable(tenantId);
    expect(Object.values(after).every((n) => n === 0)).toBe(true);
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    expect(await counters()).toEqual([]);
    expect(await objectsOf(tenantId)).toEqual([]);
    // Nor an empty folder named after the clinic in the folder store.
    await expect(stat(path.join(stack.config.STORAGE_DIR, 'tenants', tenantId))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await call(stack.url, 'GET', `/v1/processes/x/files/${fileId}`, { token: c.adminToken })).status).toBe(401);
    const kms = new KMSClient({ region: 'ap-northeast-1', endpoint: process.env.TEST_KMS_ENDPOINT, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    for (const id of masterKeys) expect((await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata?.KeyState).toBe('PendingDeletion');
    kms.destroy();
    // The wrapped data key as an old backup holds it can no longer be opened.
    await expect(createKeyProvider(stack.config).unwrapDataKey(tenantId, dataKey.masterKeyId, 'data', dataKey.wrapped)).rejects.toThrow();
    // The old generation restores (its rows are there until retention prunes it), but the clinic's data in it is unreadable.
    const scratch = await restoreToScratch(stack, createBackupStore(stack.config), backup.body.generationId);
    try {
      expect(scratch.outcome.ok).toBe(true);
      const restored = createDb({ url: scratch.appUrl, poolMax: 1 });
      try {
        const patient = await withTenant(restored, tenantId, (trx) => trx('patients').where({ id: c.patientId }).first());
        expect(patient).toBeDefined();
        await expect(new Vault(restored, createKeyProvider(stack.config)).decryptText(tenantId, `patients.name:${c.patientId}`, patient.nameSealed)).rejects.toThrow();
      } finally {
        await restored.destroy();
      }
    } finally {
      await scratch.drop();
    }

    // The certificate: counts equal to what existed, hash and signature recomputable.
    const cert = await op('GET', `/v1/operator/tenants/${tenantId}/deletion-certificate`);
    expect(cert.status).toBe(200);
    const { certificate, canonical, sha256, signature } = cert.body;
    expect(canonicalJson(certificate)).toBe(canonical);
    expect(createHash('sha256').update(canonical).digest('hex')).toBe(sha256);
    expect(createHmac('sha256', CERTIFICATE_KEY).update(canonical).digest('hex')).toBe(signature);
    const listed = Object.fromEntries(certificate.database.tables.map((t: { table: string; existed: number; remaining: number }) => [t.table, t]));
    // Lifting the hold wrote one outbox row of the clinic after our count (its signal to the
    // workflow), and the hold-lifted notice one delivery row; ending the walk-in's workflow, its
    // last step and its log entry, before the inventory.
    const existed = {
      ...before,
      workflow_outbox: before.workflow_outbox! + 1,
      email_deliveries: before.email_deliveries! + 1,
      consultation_events: before.consultation_events! + 1,
      audit_events: before.audit_events! + 1,
    };
    for (const [table, n] of Object.entries(existed)) expect([table, listed[table].existed, listed[table].remaining]).toEqual([table, n, 0]);
    expect(certificate.objects).toMatchObject({ prefix: `tenants/${tenantId}/`, count: 1 });
    expect(certificate.objects.bytes).toBeGreaterThan(0);
    expect(certificate.keys.ids.sort()).toEqual(masterKeys.sort());
    expect(certificate.workflow.id).toBe(contractEndWorkflowId(tenantId));
    expect(certificate.clinic).toEqual({ id: tenantId, slug: c.clinic.slug });
    // Mailed to the contract address (read before it was erased).
    expect((await mailsTo(contract)).find((m) => m.subject.includes('削除証明書'))?.body.text).toContain(sha256);

    // The tombstone; nothing about the contract can change any more.
    const tomb = await op('GET', `/v1/operator/tenants/${tenantId}`);
    expect(tomb.body).toMatchObject({ contractState: 'purged', status: 'suspended', name: '(deleted)', contractEmails: [] });
    expect((await op('GET', `/v1/operator/tenants/${tenantId}/contract-end`)).body).toMatchObject({ contractState: 'purged', live: null });
    expect((await op('POST', `/v1/operator/tenants/${tenantId}/legal-hold`, { reason: 'too late' })).body.code).toBe('purge_started');
    expect((await setEnd(tenantId, null)).body.code).toBe('purge_started');
    // Nor does any other operator write: no new account (personal data after the certificate), no new master key.
    const admin = await op('POST', `/v1/operator/tenants/${tenantId}/admins`, { loginId: 'late', email: 'late@clinic.example', displayName: 'Late' });
    expect([admin.status, admin.body.code]).toEqual([409, 'purge_started']);
    const rotation = await op('POST', `/v1/operator/tenants/${tenantId}/key-rotation`);
    expect([rotation.status, rotation.body.code]).toEqual([409, 'purge_started']);
    // Nobody signs in to a purged clinic, and trying leaves no row of it anywhere.
    const signIn = await call(stack.url, 'POST', '/v1/auth/login', { json: { tenant: c.clinic.slug, loginId: 'admin', password: STRONG_PASSWORD } });
    expect([signIn.status, signIn.body.code]).toEqual([401, 'invalid_credentials']);
    expect(Object.values(await rowsPerTable(tenantId)).every((n) => n === 0)).toBe(true);
    // Nor does a notice: one naming the clinic is refused (the operator learns who is not told), one
    // to every clinic passes it by; either way no row of it appears after the certificate.
    const incident = { title: 't', description: 'd', severity: 'low', detectedAt: new Date().toISOString() };
    const named = await op('POST', '/v1/operator/incidents', { ...incident, affectedTenantIds: [tenantId] });
    expect([named.status, named.body.code, named.body.errors?.[0]?.message]).toEqual([400, 'validation_failed', expect.stringContaining('deleted')]);
    const toAll = await op('POST', '/v1/operator/incidents', { ...incident, affectedTenantIds: 'all' });
    expect(toAll.status).toBe(202);
    expect((await op('POST', `/v1/operator/incidents/${toAll.body.id}/updates`, { status: 'resolved', message: 'done' })).status).toBe(202);
    await stack.temporal.client.workflow.getHandle(toAll.body.workflowId).result();
    expect(Object.values(await rowsPerTable(tenantId)).every((n) => n === 0)).toBe(true);
    // The platform log keeps ids only.
    const platformLog = await stack.database.ownerDb('platform_audit_events').where({ target_id: tenantId }).orderBy('seq');
    expect(platformLog.map((e: { action: string }) => e.action)).toEqual(
      expect.arrayContaining(['tenant.legal_hold.place', 'tenant.legal_hold.lift', 'contract.purge_started', 'contract.purged']),
    );
  });

  it('an extension re-opens a read-only clinic at once and a removed end cancels everything, each said by mail', async () => {
    const c = await bookingClinic(stack);
    const tenantId = c.clinic.id;
    const contract = `contract@${c.clinic.slug}.example`;

    expect((await setEnd(tenantId, new Date(Date.now() + 1_500))).status).toBe(200);
    await eventually('read-only', async () => (await op('GET', `/v1/operator/tenants/${tenantId}`)).body.contractState === 'read_only');
    expect((await call(stack.url, 'POST', '/v1/groups', { token: c.adminToken, json: { name: 'g1' } })).body.code).toBe('contract_ended');

    // Extended: writable from the next request on, the new plan mailed.
    const later = new Date(Date.now() + 3_600_000);
    const extended = await setEnd(tenantId, later);
    expect(extended.body.contractState).toBe('ending');
    expect((await call(stack.url, 'POST', '/v1/groups', { token: c.adminToken, json: { name: 'g2' } })).status).toBe(201);
    await eventually('the change notice', async () => (await subjects(contract)).some((s) => s.includes('終了日が変更されました')));

    // Removed: the workflow ends, having said so.
    expect((await setEnd(tenantId, null)).body).toMatchObject({ contractState: 'active', contractEndsAt: null });
    const result = (await handle(tenantId).result()) as ContractEndResult;
    expect(result.outcome).toBe('cancelled');
    await recordHistory(handle(tenantId), 'contract-end-extended-then-cancelled-with-plans');
    expect(await subjects(contract)).toEqual(expect.arrayContaining([expect.stringContaining('取り消されました')]));
    expect((await op('GET', `/v1/operator/tenants/${tenantId}`)).body.contractState).toBe('active');
    expect(await rowsPerTable(tenantId).then((r) => r.accounts)).toBeGreaterThan(0);

    // The same end set again after it was removed is announced again (a new plan, not a retry of the old mail).
    const announcements = async () => (await mailNaming(contract, 'ご契約終了のお知らせ', later)).length;
    // (Told above by the "changed" mail, not by an announcement.)
    expect(await announcements()).toBe(0);
    for (const n of [1, 2]) {
      expect((await setEnd(tenantId, later)).body.contractState).toBe('ending');
      await eventually(`announcement ${n}`, async () => (await announcements()) === n);
      expect((await setEnd(tenantId, null)).status).toBe(200);
      expect(((await handle(tenantId).result()) as ContractEndResult).outcome).toBe('cancelled');
    }
  });

  it('a burst of changes within a second is told as one change from the date the clinic knows to the last one; one undone within it is not told', async () => {
    const hour = 3_600_000;
    const told = new Date(Date.now() + 24 * hour);
    // Each round: the announced end, then two changes this many ms apart.
    const rounds = await Promise.all(
      [0, 200, 600].map(async (gapMs, i) => {
        const { clinic } = await clinicWithAdmin(stack, `settle-${i}`);
        const contract = `contract@${clinic.slug}.example`;
        expect((await setEnd(clinic.id, told)).status).toBe(200);
        await eventually(`announced to ${clinic.slug}`, async () => (await subjects(contract)).some((s) => s.includes('ご契約終了のお知らせ')));
        const between = new Date(told.getTime() + (i + 1) * hour);
        const last = i === 2 ? told : new Date(told.getTime() + 48 * hour);
        expect((await setEnd(clinic.id, between)).status).toBe(200);
        await new Promise((r) => setTimeout(r, gapMs));
        expect((await setEnd(clinic.id, last)).status).toBe(200);
        return { tenantId: clinic.id, contract, between, last };
      }),
    );
    for (const { tenantId, contract, between, last } of rounds) {
      // The run has settled on the last end (told or not), with nothing left to send.
      await eventually(`settled for ${tenantId}`, async () => (await op('GET', `/v1/operator/tenants/${tenantId}/contract-end`)).body.live?.endsAt === last.toISOString(), 30_000);
      await eventually(`nothing pending for ${tenantId}`, async () => (await stack.database.ownerDb('workflow_outbox').where({ workflow_id: contractEndWorkflowId(tenantId) }).whereNull('dispatched_at')).length === 0);
      // Cancelling ends the run, so every mail it would send about the burst has been sent.
      expect((await setEnd(tenantId, null)).status).toBe(200);
      await handle(tenantId).result();
      if (tenantId === rounds[0]!.tenantId) await recordHistory(handle(tenantId), 'contract-end-burst-told-once');
      const changes = (await mailsTo(contract)).filter((m) => m.subject.includes('終了日が変更されました'));
      expect(changes.every((m) => !m.body.text!.includes(between.toISOString()))).toBe(true);
      expect(changes.length).toBe(last.getTime() === told.getTime() ? 0 : 1);
      // From the date the clinic was told to the last one.
      if (changes[0]) expect(changes[0].body.text).toContain(`from ${formatJapanDateTime(told)} Japan time (${told.toISOString()}) to ${formatJapanDateTime(last)} Japan time (${last.toISOString()})`);
    }
  });

  it('a reminder skipped because the end had just changed is sent when the end is set back (X → Y → X)', async () => {
    const { clinic } = await clinicWithAdmin(stack, 'skip');
    const contract = `contract@${clinic.slug}.example`;
    const end = new Date(Math.ceil((Date.now() + 10_000) / 1000) * 1000);
    expect((await setEnd(clinic.id, end)).status).toBe(200);
    await eventually('announced', async () => (await subjects(contract)).some((s) => s.includes('ご契約終了のお知らせ')));
    // The end moves an hour later just before the reminder is due; its signal has not reached the
    // run when the reminder's activity reads the clinic (here: a change made without one).
    await stack.database.ownerDb('tenants').where({ id: clinic.id }).update({ contract_ends_at: new Date(end.getTime() + 3_600_000) });
    const reminderActivities = async () =>
      (await eventsOf(handle(clinic.id))).filter((e) => e.activityTaskCompletedEventAttributes).length;
    const before = await reminderActivities();
    await eventually('the reminder step ran and skipped', async () => (await reminderActivities()) > before, 20_000);
    expect((await subjects(contract)).filter((s) => s.includes('【再度のご案内】'))).toEqual([]);
    // Set back to the end that was announced: the reminder is still owed.
    expect((await setEnd(clinic.id, end)).status).toBe(200);
    await eventually('the reminder', async () => (await mailNaming(contract, '【再度のご案内】', end)).length > 0, 20_000);
    expect((await setEnd(clinic.id, null)).status).toBe(200);
    await handle(clinic.id).result();
    await recordHistory(handle(clinic.id), 'contract-end-reminder-skipped-then-sent');
  });

  it('a run started again for the same end (the last one terminated) does not announce it a second time', async () => {
    const { clinic } = await clinicWithAdmin(stack, 'restart');
    const contract = `contract@${clinic.slug}.example`;
    const announcements = async () => (await subjects(contract)).filter((s) => s.includes('ご契約終了のお知らせ') && !s.includes('【再度のご案内】'));
    expect((await setEnd(clinic.id, new Date(Date.now() + 3_600_000))).status).toBe(200);
    const planned = async () => (await op('GET', `/v1/operator/tenants/${clinic.id}/contract-end`)).body.live?.next?.kind === 'reminder';
    await eventually('announced, the reminder next', planned);
    expect(await announcements()).toHaveLength(1);
    const first = (await handle(clinic.id).describe()).runId;
    await handle(clinic.id).terminate('operator: a stuck run');
    // The next change (a hold) starts a new run, which plans the same end and goes through its steps again.
    expect((await op('POST', `/v1/operator/tenants/${clinic.id}/legal-hold`, { reason: 'restart check' })).status).toBe(200);
    await eventually('a new run past its announcement', async () => (await handle(clinic.id).describe()).runId !== first && (await planned()));
    expect(await announcements()).toHaveLength(1);
    expect((await setEnd(clinic.id, null)).status).toBe(200);
    await op('DELETE', `/v1/operator/tenants/${clinic.id}/legal-hold`);
    await handle(clinic.id).result();
    await recordHistory(handle(clinic.id), 'contract-end-restarted-same-plan');
  });

  it('a hold lifted after the run was terminated is told by the run the lifting starts', async () => {
    const { clinic } = await clinicWithAdmin(stack, 'lift-restart');
    const contract = `contract@${clinic.slug}.example`;
    const endsAt = new Date(Date.now() + 3_600_000);
    expect((await setEnd(clinic.id, endsAt)).status).toBe(200);
    expect((await op('POST', `/v1/operator/tenants/${clinic.id}/legal-hold`, { reason: 'dispute' })).status).toBe(200);
    await eventually('the run sees the hold', async () => (await op('GET', `/v1/operator/tenants/${clinic.id}/contract-end`)).body.live?.legalHold === true);
    await handle(clinic.id).terminate('operator: a stuck run');
    expect((await op('DELETE', `/v1/operator/tenants/${clinic.id}/legal-hold`)).status).toBe(200);
    await eventually('the lifting told', async () => (await mailNaming(contract, '保留が解除されました', new Date(endsAt.getTime() + 3_000))).length > 0, 20_000);
    expect((await setEnd(clinic.id, null)).status).toBe(200);
    await handle(clinic.id).result();
    await recordHistory(handle(clinic.id), 'contract-end-lift-after-restart-told');
  });

  it('a hold lifted and placed again in quick turns mails nothing; a lifting that stands is told once, with the date that holds', async () => {
    const { clinic } = await clinicWithAdmin(stack, 'flap');
    const contract = `contract@${clinic.slug}.example`;
    const liftNotices = async () => (await mailsTo(contract)).filter((m) => m.subject.includes('保留が解除されました'));
    const endsAt = new Date(Date.now() + 3_600_000);
    expect((await setEnd(clinic.id, endsAt)).status).toBe(200);
    const hold = () => op('POST', `/v1/operator/tenants/${clinic.id}/legal-hold`, { reason: 'dispute' });
    const lift = () => op('DELETE', `/v1/operator/tenants/${clinic.id}/legal-hold`);
    expect((await hold()).status).toBe(200);
    for (let i = 0; i < 5; i += 1) {
      expect((await lift()).status).toBe(200);
      expect((await hold()).status).toBe(200);
    }
    // The run has read the last state (a standing hold): nothing was told about the flapping.
    await eventually('the run sees the hold', async () => (await op('GET', `/v1/operator/tenants/${clinic.id}/contract-end`)).body.live?.legalHold === true);
    const liftedAt = Date.now();
    expect((await lift()).status).toBe(200);
    await eventually('the lifting told', async () => (await liftNotices()).length > 0, 20_000);
    const [notice, ...more] = await liftNotices();
    expect(more).toEqual([]);
    // It stood its settling time (3 s), and names the deletion that now holds: the end plus the grace.
    // (The store keeps whole seconds.)
    expect(notice!.at * 1000).toBeGreaterThanOrEqual(liftedAt + 3_000 - 1_000);
    expect(notice!.body.text).toContain(new Date(endsAt.getTime() + 3_000).toISOString());
    expect((await setEnd(clinic.id, null)).status).toBe(200);
    await handle(clinic.id).result();
    await recordHistory(handle(clinic.id), 'contract-end-hold-flapping-told-once');
  });

  it('an end set while the run is closing (just after a hold on a clinic without an end) is planned, not lost', async () => {
    // The hold starts a run that finds no end and closes; the end's signal can land while it
    // closes. Each round sets the end a little later after the hold, to cross that window.
    const endsAt = new Date(Date.now() + 3_600_000);
    const rounds = await Promise.all(
      [0, 5, 10, 20, 40, 80].map(async (delayMs, i) => {
        const { clinic } = await clinicWithAdmin(stack, `closing-${i}`);
        expect((await op('POST', `/v1/operator/tenants/${clinic.id}/legal-hold`, { reason: 'preserved before any end' })).status).toBe(200);
        await new Promise((r) => setTimeout(r, delayMs));
        expect((await setEnd(clinic.id, endsAt)).status).toBe(200);
        return clinic.id;
      }),
    );
    for (const tenantId of rounds) {
      // A run holds the plan: the announcement goes out and the next step is the reminder.
      await eventually(`a plan for ${tenantId}`, async () => {
        const live = (await op('GET', `/v1/operator/tenants/${tenantId}/contract-end`)).body.live;
        return live?.endsAt === endsAt.toISOString() && live?.next?.kind === 'reminder';
      }, 30_000);
      expect((await handle(tenantId).describe()).status.name).toBe('RUNNING');
    }
    await recordHistory(handle(rounds[0]!), 'contract-end-end-set-while-closing');
    for (const tenantId of rounds) {
      expect((await setEnd(tenantId, null)).status).toBe(200);
      expect((await op('DELETE', `/v1/operator/tenants/${tenantId}/legal-hold`)).status).toBe(200);
    }
  });

  it('a burst of changes from several operators reaches the run in seconds, without the sweeper: removing the end right after ends it', async () => {
    const rounds = await Promise.all(
      [0, 1].map(async (i) => {
        const { clinic } = await clinicWithAdmin(stack, `burst-${i}`);
        // Several operators set the end at once: each request sends its own signal, but only the
        // oldest may go while older ones are pending, so the others are deferred.
        const replies = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((k) => setEnd(clinic.id, k % 3 === 2 ? null : new Date(Date.now() + 3_600_000 + k * 60_000))));
        expect(replies.every((r) => r.status === 200)).toBe(true);
        expect((await setEnd(clinic.id, null)).status).toBe(200);
        return clinic.id;
      }),
    );
    // No sweeper runs in this suite: only the requests' own sends (and their retries) can get here.
    for (const tenantId of rounds) {
      const pending = () => stack.database.ownerDb('workflow_outbox').where({ workflow_id: contractEndWorkflowId(tenantId) }).whereNull('dispatched_at');
      await eventually(`every change to ${tenantId} sent`, async () => (await pending()).length === 0, 15_000);
      // Cancelled, or no end at all if the run first loaded the contract after the removal.
      expect(['cancelled', 'no_end']).toContain(((await handle(tenantId).result()) as ContractEndResult).outcome);
      expect((await op('GET', `/v1/operator/tenants/${tenantId}/contract-end`)).body).toMatchObject({ contractState: 'active', live: null });
    }
  });

  it('cancels at the end a booking whose workflow start was still in the outbox (booked while Temporal was unreachable)', async () => {
    const c = await bookingClinic(stack);
    const tenantId = c.clinic.id;
    const cutOff = await stack.startExtraApi({ TEMPORAL_ADDRESS: '127.0.0.1:1' });
    const booked = await book({ ...stack, url: cutOff.url } as TestStack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slotOn(2, '10:30'), mode: 'in_person' });
    expect(booked.status).toBe(201);
    await expect(stack.temporal.client.workflow.getHandle(booked.body.workflowId).describe()).rejects.toThrow();
    // The hold keeps the clinic (and the booking's row) past the grace; the sweeper does not run here.
    expect((await op('POST', `/v1/operator/tenants/${tenantId}/legal-hold`, { reason: 'keep for the check' })).status).toBe(200);
    expect((await setEnd(tenantId, new Date(Date.now() + 1_500))).status).toBe(200);
    // The end step sends the pending start, then cancels through the visit's workflow.
    await eventually('the pending booking cancelled', async () => (await stack.database.ownerDb('consultations').where({ id: booked.body.id }).first()).status === 'cancelled', 30_000);
    await stack.temporal.client.workflow.getHandle(booked.body.workflowId).result();
    expect((await setEnd(tenantId, null)).status).toBe(200);
    expect((await op('DELETE', `/v1/operator/tenants/${tenantId}/legal-hold`)).status).toBe(200);
  });

  /**
   * The end step's change of the clinic's row (or an operator's suspension), made as they make it
   * (under the clinic's state lock) and in progress while a write that passed authentication (the
   * row still said active) reaches its transaction: the write waits for it, then answers as the
   * next request would.
   */
  async function racingTheRowChange<T extends { status: number; body: any }>(tenantId: string, change: Record<string, unknown>, send: () => Promise<T>): Promise<T> {
    const changing = await stack.database.ownerDb.transaction();
    try {
      await lockClinicState(changing, tenantId);
      await changing('tenants').where({ id: tenantId }).update(change);
      const reply = send();
      await eventually('the write waits for the clinic row', async () => {
        const { rows } = await stack.database.ownerDb.raw(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`);
        return rows[0].n > 0;
      }, 10_000);
      await changing.commit();
      return await reply;
    } finally {
      if (!changing.isCompleted()) await changing.rollback();
      await stack.database.ownerDb('tenants').where({ id: tenantId }).update({ status: 'active', contract_state: 'active', contract_ends_at: null });
    }
  }
  const theEnd = () => ({ contract_state: 'read_only', contract_ends_at: new Date(Date.now() - 1_000) });

  it('a booking let in just before the end that commits after the clinic became read-only is refused (403 contract_ended), not left reserved', async () => {
    const c = await bookingClinic(stack);
    const reply = await racingTheRowChange(c.clinic.id, theEnd(), () => book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slotOn(2, '11:00'), mode: 'in_person' }));
    expect([reply.status, reply.body.code]).toEqual([403, 'contract_ended']);
    expect(await stack.database.ownerDb('consultations').where({ tenant_id: c.clinic.id })).toHaveLength(0);
  });

  it('every write a read-only clinic may not make re-checks the clinic where it commits, slow (hashing, sealing) or short: after the end 403 contract_ended, suspended meanwhile 403 tenant_suspended', async () => {
    const c = await bookingClinic(stack);
    const tenantId = c.clinic.id;
    const desk = ((await call(stack.url, 'GET', '/v1/accounts', { token: c.adminToken })).body.items as Array<{ id: string; loginId: string }>).find((a) => a.loginId === 'desk')!.id;
    let slot = 0;
    const visit = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slotOn(2, '14:00'), mode: 'in_person' });
    expect(visit.status).toBe(201);
    await stack.temporal.client.workflow.getHandle(visit.body.workflowId).describe();
    const writes: Array<[string, () => Promise<{ status: number; body: any }>]> = [
      ['booking', () => book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slotOn(2, ['13:00', '13:30'][slot++ % 2]!), mode: 'in_person' })],
      ['account', () => call(stack.url, 'POST', '/v1/accounts', { token: c.adminToken, json: { loginId: `late-${randomBytes(2).toString('hex')}`, displayName: '遅れて', email: 'late@example.jp', roles: ['staff'] } })],
      ['reset', () => call(stack.url, 'POST', `/v1/accounts/${desk}/reset-password`, { token: c.adminToken })],
      ['patient', () => call(stack.url, 'POST', '/v1/patients', { token: c.staffToken, json: { name: '遅野 太郎', kana: 'オソノ タロウ', birthDate: '1990-01-01', phone: '090-0000-0000', email: null } })],
      ['process', () => call(stack.url, 'POST', '/v1/processes', { token: c.adminToken, json: { name: 'late area' } })],
      // Short writes: authentication's check at the request's start was their only one before.
      ['group', () => call(stack.url, 'POST', '/v1/groups', { token: c.adminToken, json: { name: `late-${randomBytes(2).toString('hex')}` } })],
      ['account change', () => call(stack.url, 'PATCH', `/v1/accounts/${desk}`, { token: c.adminToken, json: { displayName: '遅れて 変更' } })],
      ['password policy', () => call(stack.url, 'PUT', '/v1/settings/password-policy', { token: c.adminToken, json: { initialPasswordTtlSeconds: 7_200 } })],
      ['allowlist', () => call(stack.url, 'PUT', '/v1/settings/network-allowlist', { token: c.adminToken, json: { cidrs: ['127.0.0.0/8', '::1/128'] } })],
      // A consultation action is re-checked before its update is sent to the visit's workflow.
      ['check-in', () => call(stack.url, 'POST', `/v1/consultations/${visit.body.id}/check-in`, { token: c.staffToken, headers: { 'idempotency-key': `late-${randomBytes(4).toString('hex')}` } })],
    ];
    const before = await rowsPerTable(tenantId);
    for (const [what, send] of writes) {
      const ended = await racingTheRowChange(tenantId, theEnd(), send);
      expect([what, ended.status, ended.body.code]).toEqual([what, 403, 'contract_ended']);
      const suspended = await racingTheRowChange(tenantId, { status: 'suspended' }, send);
      expect([what, suspended.status, suspended.body.code]).toEqual([what, 403, 'tenant_suspended']);
    }
    const after = await rowsPerTable(tenantId);
    // Only records of the refusals (operation log, denied attempts) were added.
    expect({ ...after, audit_events: 0, security_events: 0 }).toEqual({ ...before, audit_events: 0, security_events: 0 });
    expect((await call(stack.url, 'GET', `/v1/accounts/${desk}`, { token: c.adminToken })).body.displayName).not.toBe('遅れて 変更');
    expect((await stack.database.ownerDb('consultations').where({ id: visit.body.id }).first()).status).toBe('reserved');
    // The refusals themselves are in the operation log: a record of what was refused is not a write the end forbids.
    const denied = await stack.database.ownerDb('audit_events').where({ tenant_id: tenantId, action: 'account.create', outcome: 'denied' });
    expect(denied.map((e: { details: { code: string } }) => e.details.code).sort()).toEqual(['contract_ended', 'tenant_suspended']);

    // Taking access away stays open after the end: neither held up by the end's change nor refused.
    const doctor = ((await call(stack.url, 'GET', '/v1/accounts', { token: c.adminToken })).body.items as Array<{ id: string; loginId: string }>).find((a) => a.loginId === 'dr.sato')!.id;
    const changing = await stack.database.ownerDb.transaction();
    try {
      await changing('tenants').where({ id: tenantId }).update(theEnd());
      const off = await call(stack.url, 'PATCH', `/v1/accounts/${doctor}`, { token: c.adminToken, json: { disabled: true } });
      expect([off.status, off.body.disabled]).toEqual([200, true]);
    } finally {
      await changing.rollback();
    }
  });

  it('a slow upload begun before the end and finished after it is refused (403 contract_ended): no file row, no stored object', async () => {
    const c = await bookingClinic(stack);
    const tenantId = c.clinic.id;
    const processId = (await call(stack.url, 'POST', '/v1/processes', { token: c.adminToken, json: { name: 'late upload' } })).body.id as string;
    const url = new URL(`/v1/processes/${processId}/files?name=late.txt`, stack.url);
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(url, { method: 'POST', headers: { authorization: `Bearer ${c.adminToken}`, 'content-type': 'text/plain' } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.write('the first part, sent while the clinic is writable\n');
      // The end passes while the body is still coming (past authentication: its object is being written).
      void eventually('the upload under way', async () => (await objectsOf(tenantId)).length > 0, 10_000)
        .then(() => stack.database.ownerDb('tenants').where({ id: tenantId }).update({ contract_state: 'read_only', contract_ends_at: new Date(Date.now() - 1_000) }))
        .then(() => req.end('the rest, after the end\n'));
    });
    const reply = await answer;
    expect([reply.status, JSON.parse(reply.body).code]).toEqual([403, 'contract_ended']);
    expect(await stack.database.ownerDb('process_files').where({ tenant_id: tenantId })).toHaveLength(0);
    expect(await objectsOf(tenantId)).toHaveLength(0);
    await stack.database.ownerDb('tenants').where({ id: tenantId }).update({ contract_state: 'active', contract_ends_at: null });
  });

  it('a suspension under a stream of writes and logged reads is answered, never deadlocks, no answer is 5xx, and no write commits after it', async () => {
    const c = await bookingClinic(stack);
    const tenantId = c.clinic.id;
    const group = await call(stack.url, 'POST', '/v1/groups', { token: c.adminToken, json: { name: 'renamed' } });
    let stop = false;
    let n = 0;
    const answers: string[] = [];
    const worker = async (k: number) => {
      while (!stop) {
        const [what, reply] =
          k % 4 === 0 ? ['search', await call(stack.url, 'GET', '/v1/patients?limit=20', { token: c.staffToken })]
          : k % 4 === 1 ? ['create', await call(stack.url, 'POST', '/v1/groups', { token: c.adminToken, json: { name: `g-${k}-${n++}` } })]
          : k % 4 === 2 ? ['rename', await call(stack.url, 'PATCH', `/v1/groups/${group.body.id}`, { token: c.adminToken, json: { name: `r-${n++}` } })]
          : ['me', await call(stack.url, 'GET', '/v1/me', { token: c.staffToken })];
        answers.push(`${what} ${reply.status} ${reply.status < 300 ? '' : reply.body?.code}`);
      }
    };
    const workers = Array.from({ length: 16 }, (_, k) => worker(k));
    try {
      // The suspension goes in once the stream is flowing.
      await eventually('the stream flows', async () => answers.length >= 64, 30_000);
      const suspended = await op('PATCH', `/v1/operator/tenants/${tenantId}`, { status: 'suspended' });
      expect([suspended.status, suspended.body.status]).toEqual([200, 'suspended']);
    } finally {
      stop = true;
      await Promise.all(workers);
    }
    // Before it, every answer a success; after it, tenant_suspended; nothing else (no 503 from a deadlocked log batch, no 500).
    expect(answers.filter((a) => !/ 2\d\d $/.test(a) && !a.endsWith(' 403 tenant_suspended'))).toEqual([]);
    // In the clinic's log (its chain is in commit order) no write's success comes after the suspension.
    const log = await stack.database.ownerDb('audit_events').where({ tenant_id: tenantId }).orderBy('seq');
    const at = log.findIndex((e: { action: string }) => e.action === 'tenant.suspend');
    expect(at).toBeGreaterThan(0);
    expect(log.slice(at + 1).filter((e: { action: string; outcome: string }) => e.action.startsWith('group.') && e.outcome === 'success')).toEqual([]);
    expect((await op('PATCH', `/v1/operator/tenants/${tenantId}`, { status: 'active' })).status).toBe(200);
  });

  it('read-only means every write operation of /openapi.json: each answers 403 contract_ended and changes nothing, except signing in and out, exports and taking access away', async () => {
    const c = await bookingClinic(stack);
    const tenantId = c.clinic.id;
    // The hold keeps the clinic read-only past the grace for as long as the walk takes.
    expect((await op('POST', `/v1/operator/tenants/${tenantId}/legal-hold`, { reason: 'read-only walk' })).status).toBe(200);
    expect((await setEnd(tenantId, new Date(Date.now() + 1_500))).status).toBe(200);
    await eventually('read-only', async () => (await op('GET', `/v1/operator/tenants/${tenantId}`)).body.contractState === 'read_only', 30_000);

    const doc = (await call(stack.url, 'GET', '/openapi.json')).body;
    const writes = operationsOf(doc).filter((o) => !['GET', 'HEAD', 'OPTIONS'].includes(o.method));
    const documentsEnd = (o: { method: string; path: string }) =>
      JSON.stringify(doc.paths[o.path][o.method.toLowerCase()].responses?.['403'] ?? {}).includes('"contract_ended"');
    // What stays open is the contract's own choice, named here so that a route that drops the
    // check (or a new one that never had it) fails this test.
    expect(writes.filter((o) => !documentsEnd(o)).map((o) => `${o.method} ${o.path}`).sort()).toEqual([
      'DELETE /v1/accounts/{id}/passkeys',
      'DELETE /v1/accounts/{id}/sessions',
      'DELETE /v1/auth/sessions',
      'DELETE /v1/auth/sessions/{id}',
      'DELETE /v1/auth/webauthn/credentials/{id}',
      'POST /v1/auth/login',
      'POST /v1/auth/logout',
      'POST /v1/auth/password',
      'POST /v1/auth/reauthenticate',
      'POST /v1/auth/webauthn/authentication/options',
      'POST /v1/auth/webauthn/authentication/verify',
      'POST /v1/auth/webauthn/registration/options',
      'POST /v1/auth/webauthn/registration/verify',
      'POST /v1/exports',
    ]);

    const accounts = (await call(stack.url, 'GET', '/v1/accounts', { token: c.adminToken })).body.items as Array<{ id: string; loginId: string }>;
    const desk = accounts.find((a) => a.loginId === 'desk')!.id;
    // The end's own step (its notice mail included) is over before the rows are counted.
    await eventually('the end step done', async () => ['purge', 'legal_hold'].includes((await op('GET', `/v1/operator/tenants/${tenantId}/contract-end`)).body.live?.next?.kind), 30_000);
    const before = await rowsPerTable(tenantId);
    const answers: string[] = [];
    for (const o of writes.filter(documentsEnd)) {
      const path = o.path.replace(/\{[^}]+\}/g, () => (o.path.includes('/accounts/') ? desk : o.path.includes('/consultations/') ? '00000000-0000-4000-8000-000000000000' : c.patientId));
      // The account change is open to one body only: any other valid one is refused.
      const json = o.operationId === 'updateAccount' ? { displayName: 'changed after the end' } : {};
      for (const token of [c.adminToken, c.staffToken]) {
        const reply = await call(stack.url, o.method, path, { token, json, headers: { 'idempotency-key': `walk-${o.operationId}` } });
        answers.push(`${o.method} ${o.path} → ${reply.status} ${reply.body?.code}`);
        // A route open to some bodies decides after the role check: the desk is refused as not an admin.
        const expected = typeof o.operationId === 'string' && o.operationId === 'updateAccount' && token === c.staffToken ? 'forbidden' : 'contract_ended';
        expect(`${o.method} ${o.path} → ${reply.status} ${reply.body?.code}`).toBe(`${o.method} ${o.path} → 403 ${expected}`);
      }
    }
    expect(answers.length).toBeGreaterThan(40);
    // Nothing changed but the record of the desk's refusal as not an admin (a denied attempt).
    expect({ ...(await rowsPerTable(tenantId)), security_events: 0 }).toEqual({ ...before, security_events: 0 });

    // Taking access away still works: someone who leaves during the grace is disabled (their
    // sessions end at once), and a passkey can be removed (here: the proof it needs is asked for, not the contract).
    expect((await call(stack.url, 'PATCH', `/v1/accounts/${desk}`, { token: c.adminToken, json: { disabled: true, displayName: 'x' } })).body.code).toBe('contract_ended');
    const disabled = await call(stack.url, 'PATCH', `/v1/accounts/${desk}`, { token: c.adminToken, json: { disabled: true } });
    expect([disabled.status, disabled.body.disabled]).toEqual([200, true]);
    expect((await call(stack.url, 'GET', '/v1/me', { token: c.staffToken })).status).toBe(401);
    const passkey = await call(stack.url, 'DELETE', '/v1/auth/webauthn/credentials/00000000-0000-4000-8000-000000000000', { token: c.doctorToken });
    expect(passkey.body.code).not.toBe('contract_ended');
    expect(passkey.status).toBeLessThan(500);
    // So can an admin's removal of someone's passkeys (a lost or stolen authenticator).
    const theirs = await call(stack.url, 'DELETE', `/v1/accounts/${desk}/passkeys`, { token: c.adminToken });
    expect(theirs.body.code).not.toBe('contract_ended');
    expect(theirs.status).toBeLessThan(500);
    // An operator can still add an admin to the read-only clinic (one who can export its data).
    const rescue = await op('POST', `/v1/operator/tenants/${tenantId}/admins`, { loginId: 'rescue', email: 'rescue@example.jp', displayName: '救援 管理者' });
    expect(rescue.status).toBe(201);

    // Cleaned up: the end removed and the hold lifted, the clinic writable again.
    expect((await setEnd(tenantId, null)).status).toBe(200);
    expect((await op('DELETE', `/v1/operator/tenants/${tenantId}/legal-hold`)).status).toBeLessThan(300);
    expect((await call(stack.url, 'POST', '/v1/groups', { token: c.adminToken, json: { name: 'after the walk' } })).status).toBe(201);
  });

  it('refuses malformed contract ends and holds with 400', async () => {
    const c = await bookingClinic(stack);
    expect((await op('PATCH', `/v1/operator/tenants/${c.clinic.id}`, { contractEndsAt: '2027-02-30T00:00:00Z' })).body.code).toBe('validation_failed');
    expect((await op('PATCH', `/v1/operator/tenants/${c.clinic.id}`, { contractEndsAt: 12 })).body.code).toBe('validation_failed');
    // An end in the past (a mistyped year) would purge at once: refused, and nothing starts.
    const past = await op('PATCH', `/v1/operator/tenants/${c.clinic.id}`, { contractEndsAt: '2025-12-01T00:00:00Z' });
    expect([past.status, past.body.code]).toEqual([400, 'contract_end_in_past']);
    // Within the usual 5 minutes, but more than half of this stack's 3 s grace back: refused too (the purge would be due at once).
    const recent = await op('PATCH', `/v1/operator/tenants/${c.clinic.id}`, { contractEndsAt: new Date(Date.now() - 10_000).toISOString() });
    expect([recent.status, recent.body.code]).toEqual([400, 'contract_end_in_past']);
    const tenant = (await op('GET', `/v1/operator/tenants/${c.clinic.id}`)).body;
    expect([tenant.contractState, tenant.contractEndsAt]).toEqual(['active', null]);
    expect((await op('POST', `/v1/operator/tenants/${c.clinic.id}/legal-hold`, {})).body.code).toBe('validation_failed');
    expect((await op('GET', `/v1/operator/tenants/${c.clinic.id}/deletion-certificate`)).status).toBe(404);
    // No end ever set: the stored contract, no workflow to ask.
    expect((await op('GET', `/v1/operator/tenants/${c.clinic.id}/contract-end`)).body).toMatchObject({ contractState: 'active', contractEndsAt: null, live: null });
    expect((await op('GET', '/v1/operator/tenants/00000000-0000-4000-8000-000000000009/contract-end')).status).toBe(404);
  });
});
