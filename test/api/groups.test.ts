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

type Page = { items: Array<{ id: string }>; nextCursor: string | null };

/** Every page of a list walked with `limit`, and the cursors that led to them. */
async function walk(token: string, path: string, limit: number) {
  const pages: string[][] = [];
  const cursors: string[] = [];
  let cursor: string | null = null;
  do {
    const res: { status: number; body: Page } = await call<Page>(stack.url, 'GET', `${path}?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, { token });
    expect(res.status).toBe(200);
    pages.push(res.body.items.map((i) => i.id));
    cursor = res.body.nextCursor;
    if (cursor) cursors.push(cursor);
  } while (cursor && pages.length < 20);
  return { pages, cursors };
}

describe('lists by name, a page at a time', () => {
  it('pages groups and doctors in name order, with names a cursor must carry as they are, and keeps a cursor whose row went away', async () => {
    const { token } = await clinicWithAdmin(stack);
    // Quotes, a backslash and kanji: all of them ride in the cursor.
    const names = ['"引用" \\ 班', '受付', '看護師', 'Ａ班', 'a-team'];
    for (const name of names) expect((await call(stack.url, 'POST', '/v1/groups', { token, json: { name } })).status).toBe(201);
    const all = await call(stack.url, 'GET', '/v1/groups', { token });
    expect([all.body.items.length, all.body.nextCursor]).toEqual([5, null]);
    const order = all.body.items.map((g: { id: string }) => g.id);
    const { pages, cursors } = await walk(token, '/v1/groups', 2);
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(pages.flat()).toEqual(order);

    // The group the first cursor names is deleted: the next page starts after it all the same.
    expect((await call(stack.url, 'DELETE', `/v1/groups/${order[1]}`, { token })).status).toBe(204);
    const after = await call(stack.url, 'GET', `/v1/groups?limit=2&cursor=${cursors[0]}`, { token });
    expect(after.body.items.map((g: { id: string }) => g.id)).toEqual(order.slice(2, 4));

    // Doctors may share a name: the id orders them, and no page repeats or skips one.
    for (const displayName of ['鈴木 医師', '鈴木 医師', '鈴木 医師', '阿部 医師']) {
      expect((await call(stack.url, 'POST', '/v1/practitioners', { token, json: { displayName, slotMinutes: 15, rules: [] } })).status).toBe(201);
    }
    const doctors = await call(stack.url, 'GET', '/v1/practitioners', { token });
    expect(doctors.body.nextCursor).toBeNull();
    const doctorPages = await walk(token, '/v1/practitioners', 1);
    expect(doctorPages.pages.flat()).toEqual(doctors.body.items.map((d: { id: string }) => d.id));
    expect(doctorPages.pages.length).toBe(4);
  });

  it('refuses a cursor we could not have written, and one without a limit', async () => {
    const { token } = await clinicWithAdmin(stack);
    const id = '00000000-0000-4000-8000-000000000000';
    const cursorOf = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const path of ['/v1/groups', '/v1/practitioners']) {
      // NUL would reach PostgreSQL as text it refuses (a 500): it is in no stored name.
      const notUtf8 = Buffer.concat([Buffer.from('["a'), Buffer.from([0xff]), Buffer.from(`","${id}"]`)]).toString('base64url');
      for (const bad of ['x', notUtf8, cursorOf(['a\u0000b', id]), cursorOf(['a', 'not-an-id']), cursorOf(['', id]), cursorOf([1, id]), cursorOf(['a', id, 'c'])]) {
        const res = await call(stack.url, 'GET', `${path}?limit=2&cursor=${bad}`, { token });
        expect([path, res.status, res.body.code]).toEqual([path, 400, 'invalid_cursor']);
      }
      const good = await call(stack.url, 'GET', `${path}?limit=2&cursor=${cursorOf(['a', id])}`, { token });
      expect([path, good.status]).toEqual([path, 200]);
      const noLimit = await call(stack.url, 'GET', `${path}?cursor=${cursorOf(['a', id])}`, { token });
      expect([path, noLimit.status, noLimit.body.code]).toEqual([path, 400, 'validation_failed']);
      expect((await call(stack.url, 'GET', `${path}?limit=0`, { token })).status).toBe(400);
    }
  });
});
