import { call } from '../harness/http';
import { clinicWithAdmin, createAccount } from '../harness/clinic';
import { startTestStack, type TestStack } from '../harness/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

describe('user groups', () => {
  it('creates, renames, changes members of and deletes groups', async () => {
    const { token } = await clinicWithAdmin(stack);
    const a = await createAccount(stack, token, 'nurse.a');
    const b = await createAccount(stack, token, 'nurse.b');
    const created = await call(stack.url, 'POST', '/v1/groups', { token, json: { name: ' 看護師 ', memberIds: [a.accountId, a.accountId] } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: '看護師', memberIds: [a.accountId] });
    const id = created.body.id;

    const dup = await call(stack.url, 'POST', '/v1/groups', { token, json: { name: '看護師' } });
    expect([dup.status, dup.body.code]).toEqual([409, 'group_name_taken']);

    expect((await call(stack.url, 'POST', `/v1/groups/${id}/members`, { token, json: { accountId: b.accountId } })).body.memberIds.sort()).toEqual([a.accountId, b.accountId].sort());
    expect((await call(stack.url, 'DELETE', `/v1/groups/${id}/members/${a.accountId}`, { token })).status).toBe(204);
    expect((await call(stack.url, 'DELETE', `/v1/groups/${id}/members/${a.accountId}`, { token })).status).toBe(404);
    const renamed = await call(stack.url, 'PATCH', `/v1/groups/${id}`, { token, json: { name: 'Nurses', memberIds: [a.accountId, b.accountId] } });
    expect(renamed.body).toMatchObject({ name: 'Nurses' });
    expect(renamed.body.memberIds.sort()).toEqual([a.accountId, b.accountId].sort());

    // Deleting an account takes it out of its groups.
    await call(stack.url, 'DELETE', `/v1/accounts/${b.accountId}`, { token });
    expect((await call(stack.url, 'GET', `/v1/groups/${id}`, { token })).body.memberIds).toEqual([a.accountId]);

    const list = await call(stack.url, 'GET', '/v1/groups', { token });
    expect(list.body.items.map((g: { name: string }) => g.name)).toEqual(['Nurses']);
    expect((await call(stack.url, 'DELETE', `/v1/groups/${id}`, { token })).status).toBe(204);
    expect((await call(stack.url, 'GET', `/v1/groups/${id}`, { token })).status).toBe(404);
  });

  it('rejects unknown members and bad input with clear errors', async () => {
    const { token } = await clinicWithAdmin(stack);
    const unknown = await call(stack.url, 'POST', '/v1/groups', { token, json: { name: 'X', memberIds: ['00000000-0000-4000-8000-000000000000'] } });
    expect([unknown.status, unknown.body.code]).toEqual([404, 'not_found']);
    const notUuid = await call(stack.url, 'POST', '/v1/groups', { token, json: { name: 'X', memberIds: ['abc'] } });
    expect(notUuid.status).toBe(404);
    const empty = await call(stack.url, 'POST', '/v1/groups', { token, json: { name: '   ' } });
    expect([empty.status, empty.body.errors[0].field]).toEqual([400, 'name']);
    expect((await call(stack.url, 'PATCH', '/v1/groups/not-a-uuid', { token, json: { name: 'Y' } })).status).toBe(404);
    expect((await call(stack.url, 'PATCH', '/v1/groups/00000000-0000-4000-8000-000000000000', { token, json: {} })).status).toBe(400);
  });
});
