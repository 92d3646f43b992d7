import { randomUUID } from 'node:crypto';
import * as danglingAccess from '../../db/migrations/20270110000003_process_access_dangling';
import { call } from '../harness/http';
import { clinicWithAdmin, createAccount } from '../harness/clinic';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * Who may see a process area's files is decided by its access list and by group membership; the
 * operation log must say who was given or lost which right, and a deleted account or group must
 * leave the lists (an area whose list still named one could not be saved again as answered).
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);

it('logs access lists and group members before and after; a deleted group or account leaves every list, and the list as answered can be sent back', async () => {
  const { clinic, adminId, token } = await clinicWithAdmin(stack, 'access-log');
  const doctor = await createAccount(stack, token, 'doc', ['doctor']);
  const nurse = await createAccount(stack, token, 'nurse', ['staff']);
  const group = await call(stack.url, 'POST', '/v1/groups', { token, json: { name: 'Nurses', memberIds: [nurse.accountId] } });
  expect(group.status).toBe(201);
  const groupId = group.body.id;

  const area = await call(stack.url, 'POST', '/v1/processes', {
    token,
    json: { name: 'Referrals', allowedAccounts: [{ id: doctor.accountId, right: 'write' }], allowedGroups: [{ id: groupId, right: 'read' }] },
  });
  expect(area.status).toBe(201);
  const areaId = area.body.id;
  const patch = (json: unknown) => call(stack.url, 'PATCH', `/v1/processes/${areaId}`, { token, json });
  expect((await patch({ allowedAccounts: [{ id: adminId, right: 'manage' }, { id: doctor.accountId, right: 'manage' }] })).status).toBe(200);
  expect((await call(stack.url, 'PATCH', `/v1/groups/${groupId}`, { token, json: { memberIds: [doctor.accountId] } })).status).toBe(200);

  const log = async (action: string) =>
    (await stack.database.ownerDb('audit_events').where({ tenant_id: clinic.id, action }).orderBy('seq')).map((e: { actorId: string; details: Record<string, unknown> }) => ({ actorId: e.actorId, details: e.details }));
  const [created] = await log('process.create');
  expect(created!.actorId).toBe(adminId);
  expect(created!.details).toMatchObject({
    allowedAccounts: [{ id: adminId, right: 'manage' }, { id: doctor.accountId, right: 'write' }].sort(byId),
    allowedGroups: [{ id: groupId, right: 'read' }],
  });
  const [updated] = await log('process.update');
  expect(updated!.details).toEqual({
    fields: ['allowedAccountIds'],
    allowedAccounts: {
      before: [{ id: adminId, right: 'manage' }, { id: doctor.accountId, right: 'write' }].sort(byId),
      after: [{ id: adminId, right: 'manage' }, { id: doctor.accountId, right: 'manage' }].sort(byId),
    },
  });
  expect((await log('group.create'))[0]!.details).toEqual({ members: 1, memberIds: [nurse.accountId] });
  const [members] = await log('group.update');
  expect(members!.details).toEqual({ fields: ['memberIds'], members: { added: [doctor.accountId], removed: [nurse.accountId] } });

  // A deleted group and a deleted account leave the list, and say where from.
  expect((await call(stack.url, 'DELETE', `/v1/groups/${groupId}`, { token })).status).toBe(204);
  expect((await call(stack.url, 'DELETE', `/v1/accounts/${doctor.accountId}`, { token })).status).toBe(204);
  expect((await log('group.delete'))[0]!.details).toEqual({ processAccessRemoved: [areaId] });
  expect((await log('account.delete'))[0]!.details).toEqual({ processAccessRemoved: [areaId] });
  const now = await call(stack.url, 'GET', `/v1/processes/${areaId}`, { token });
  expect(now.body.allowedGroups).toEqual([]);
  expect(now.body.allowedAccounts).toEqual([{ id: adminId, right: 'manage' }]);
  // The list as answered goes back unchanged.
  const resent = await patch({ name: 'Referrals 2', allowedAccounts: now.body.allowedAccounts, allowedGroups: now.body.allowedGroups });
  expect(resent.status).toBe(200);
});

it('the migration removes entries that earlier deletions left behind, and nothing else', async () => {
  const { clinic, adminId, token } = await clinicWithAdmin(stack, 'access-migration');
  const area = await call(stack.url, 'POST', '/v1/processes', { token, json: { name: 'Old area' } });
  const owner = stack.database.ownerDb;
  const dead = { tenant_id: clinic.id, process_id: area.body.id, access_right: 'write' };
  await owner('process_access').insert([
    { ...dead, principal_type: 'group', principal_id: randomUUID() },
    { ...dead, principal_type: 'account', principal_id: randomUUID() },
  ]);
  await owner.transaction((trx) => danglingAccess.up(trx));
  const left = await owner('process_access').where({ process_id: area.body.id }).select('principal_type', 'principal_id', 'access_right');
  expect(left).toEqual([{ principalType: 'account', principalId: adminId, accessRight: 'manage' }]);
  expect((await call(stack.url, 'PATCH', `/v1/processes/${area.body.id}`, { token, json: { name: 'Old area 2' } })).status).toBe(200);
});
