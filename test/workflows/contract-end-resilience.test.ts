import { randomBytes, randomUUID } from 'node:crypto';
import { createContractEndActivities } from '../../activities/contract-end';
import type { Mailer } from '../../lib/mailer';
import { seedClinicVolume } from '../../db/seed-clinic-volume';
import { contractEndWorkflowId } from '../../temporal/workflow-ids';
import type { ContractEndResult } from '../../workflows/contract-end';
import { eventually } from '../harness/clinic';
import { bookingClinic } from '../harness/consultations';
import { call } from '../harness/http';
import { startTestStack, type TestStack } from '../harness/stack';
import { forkWorker } from '../harness/worker-process';
import { slotOn } from '../harness/slots';

/**
 * A worker SIGKILLed in the middle of a purge: the retry on another worker finishes it without
 * errors for the rows already gone, and the certificate still says exactly what existed.
 */
jest.setTimeout(240_000);

const SETTINGS = { CONTRACT_NOTICE_LEAD_SECONDS: '1', CONTRACT_GRACE_SECONDS: '1', PURGE_BATCH_ROWS: '100', DELETION_CERTIFICATE_KEY: randomBytes(32).toString('hex') };
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack(SETTINGS);
});
afterAll(async () => {
  await stack?.stop();
});

it('finishes a purge whose worker was killed mid-way, and certifies what existed', async () => {
  const c = await bookingClinic(stack);
  const tenantId = c.clinic.id;
  await seedClinicVolume(stack.database.ownerDb, tenantId, { patients: 3_000, consultations: 6_000 });

  // From here on the only worker is a separate process, killed once it has deleted some rows.
  await stack.stopWorker();
  const doomed = await forkWorker(stack, { ...SETTINGS, PURGE_DATABASE_URL: stack.config.PURGE_DATABASE_URL, STORAGE_DIR: stack.config.STORAGE_DIR });

  const set = await call(stack.operatorUrl, 'PATCH', `/v1/operator/tenants/${tenantId}`, { token: stack.operatorToken, json: { contractEndsAt: new Date(Date.now() + 1_000).toISOString() } });
  expect(set.status).toBe(200);
  await eventually(
    'the purge half-way',
    async () => {
      const { rows: left } = await stack.database.ownerDb.raw('select count(*)::int as n from consultations where tenant_id = ?', [tenantId]);
      return left[0].n < 6_000;
    },
    60_000,
  );
  await doomed.kill();
  const { rows } = await stack.database.ownerDb.raw('select count(*)::int as n from consultations where tenant_id = ?', [tenantId]);
  expect(rows[0].n).toBeGreaterThan(0); // killed with work left

  await stack.startWorker();
  const result = (await stack.temporal.client.workflow.getHandle(contractEndWorkflowId(tenantId)).result()) as ContractEndResult;
  expect(result.outcome).toBe('purged');
  const record = await stack.database.ownerDb('deletion_certificates').where({ clinic_id: tenantId }).first();
  const tables = record.certificate.database.tables as Array<{ table: string; existed: number; remaining: number }>;
  expect(tables.find((t) => t.table === 'patients')).toEqual({ table: 'patients', existed: 3_001, remaining: 0 });
  expect(tables.find((t) => t.table === 'consultations')).toEqual({ table: 'consultations', existed: 6_000, remaining: 0 });
  for (const t of tables) {
    const left = await stack.database.ownerDb.raw(`select count(*)::int as n from "${t.table}" where tenant_id = ?`, [tenantId]);
    expect([t.table, left.rows[0].n]).toEqual([t.table, 0]);
  }
});

it('cancels the clinic\'s export still being built before a purge, and waits until it has closed', async () => {
  const c = await bookingClinic(stack);
  // A workflow that stays open until told otherwise stands in for an export caught mid-archive
  // (a real one of a test clinic ends within a second): the clinic's running export points at it.
  const booked = await call(stack.url, 'POST', '/v1/consultations', {
    token: c.staffToken,
    headers: { 'idempotency-key': `closing-exports-${randomBytes(4).toString('hex')}` },
    json: { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slotOn(3, '10:00'), mode: 'in_person' },
  });
  expect(booked.status).toBe(201);
  const workflowId = booked.body.workflowId as string;
  await stack.database.ownerDb('data_exports').insert({ id: randomUUID(), tenant_id: c.clinic.id, workflow_id: workflowId, state: 'running' });
  const acts = createContractEndActivities({ db: stack.database.db, temporal: stack.temporal.client, mailer: {} as Mailer });
  expect(await acts.closeClinicExports({ tenantId: c.clinic.id })).toEqual({ cancelled: 1 });
  // Resolved only once it had closed.
  expect((await stack.temporal.client.workflow.getHandle(workflowId).describe()).status.name).not.toBe('RUNNING');
  // Nothing running any more: nothing to do.
  await stack.database.ownerDb('data_exports').where({ tenant_id: c.clinic.id }).update({ state: 'failed' });
  expect(await acts.closeClinicExports({ tenantId: c.clinic.id })).toEqual({ cancelled: 0 });
});
