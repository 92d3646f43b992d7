import { fetchLocalEmails } from '../../lib/local-ses';
import { TENANT_ID } from '../../temporal/search-attributes';
import type { tenantProvisioningWorkflow } from '../../workflows/tenant-provisioning';
import { insertTenant } from '../../db/tenants';
import { startTestStack, type TestStack } from '../harness/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

const start = (tenantId: string, workflowId: string) =>
  stack.temporal.client.workflow.execute<typeof tenantProvisioningWorkflow>('tenantProvisioningWorkflow', {
    workflowId,
    taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
    args: [tenantId],
    typedSearchAttributes: [{ key: TENANT_ID, value: tenantId }],
  });

describe('tenantProvisioningWorkflow on a real Temporal server', () => {
  it('mails each contract address exactly once even when the same provisioning runs again', async () => {
    const slug = `once-${Date.now().toString(36)}`;
    const tenant = await insertTenant(stack.database.db, {
      slug,
      name: 'Once Clinic',
      contractEmails: [`a@${slug}.example`, `b@${slug}.example`, `c@${slug}.example`],
    });
    const workflowId = `tenant-provisioning/${tenant.id}`;
    expect(await start(tenant.id, workflowId)).toEqual({ tenantId: tenant.id, welcomeEmailsSent: 3, outcome: 'provisioned' });
    // A second run under the same id (as after an operator's retry) must not mail anyone again.
    expect(await start(tenant.id, workflowId)).toEqual({ tenantId: tenant.id, welcomeEmailsSent: 0, outcome: 'provisioned' });

    const mails = (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.destination.to[0]?.endsWith(`@${slug}.example`));
    expect(mails).toHaveLength(3);
    const rows = await stack.database.ownerDb('email_deliveries').where({ tenant_id: tenant.id });
    expect(rows).toHaveLength(3);
    expect(rows.every((r: { status: string }) => r.status === 'sent')).toBe(true);
    // Neither the address nor the body is stored.
    expect(JSON.stringify(rows)).not.toContain(slug);
    const after = await stack.database.ownerDb('tenants').where({ id: tenant.id }).first();
    expect(after.status).toBe('active');
  });

  it('ends with a recorded outcome, not endless retries, when the clinic does not exist', async () => {
    const missing = '00000000-0000-4000-8000-000000000001';
    expect(await start(missing, `tenant-provisioning/${missing}`)).toEqual({ tenantId: missing, welcomeEmailsSent: 0, outcome: 'tenant_missing' });
  });

  it('ends with tenant_missing when the clinic is deleted before provisioning runs', async () => {
    const slug = `gone-${Date.now().toString(36)}`;
    const tenant = await insertTenant(stack.database.db, { slug, name: 'Gone Clinic', contractEmails: [`a@${slug}.example`] });
    await stack.database.ownerDb('tenants').where({ id: tenant.id }).delete();
    expect(await start(tenant.id, `tenant-provisioning/${tenant.id}`)).toEqual({ tenantId: tenant.id, welcomeEmailsSent: 0, outcome: 'tenant_missing' });
    const mails = (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.destination.to[0]?.endsWith(`@${slug}.example`));
    expect(mails).toHaveLength(0);
  });
});
