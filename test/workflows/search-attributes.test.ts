import { randomBytes } from 'node:crypto';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { CUSTOM_SEARCH_ATTRIBUTES, ensureSearchAttributes } from '../../temporal/search-attributes';

/**
 * Workers register the custom search attributes a namespace lacks, so a new cluster (or the
 * production-shape server, which starts with none) works without a manual step.
 */
let connection: Connection;
beforeAll(async () => {
  connection = await Connection.connect({ address: process.env.TEST_TEMPORAL_ADDRESS! });
});
afterAll(async () => {
  await connection?.close();
});

it('adds every missing custom search attribute with its type, once; a second call changes nothing', async () => {
  const namespace = `sa-${randomBytes(4).toString('hex')}`;
  await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });

  const added = await ensureSearchAttributes(connection.operatorService, namespace);
  expect(added.sort()).toEqual(CUSTOM_SEARCH_ATTRIBUTES.map((k) => k.name).sort());
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  expect(customAttributes).toMatchObject({ TenantId: 2, IncidentId: 2, Severity: 2, ScheduledStart: 6 });

  expect(await ensureSearchAttributes(connection.operatorService, namespace)).toEqual([]);
});

it('finds nothing missing on the test server, which was started with them', async () => {
  expect(await ensureSearchAttributes(connection.operatorService, 'default')).toEqual([]);
});
