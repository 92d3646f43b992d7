import { clinicWithAdmin, createAccount, STRONG_PASSWORD } from '../harness/clinic';
import { startTestStack, type TestStack } from '../harness/stack';
import { clinicClient } from '../contract/typed-client';

/**
 * The front end's side of the contract: a client generated from /openapi.json (types by
 * openapi-typescript, calls by openapi-fetch) works against the running API — and every answer
 * it gets is also checked against the document by the contract test (test/harness/contract-setup.ts).
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

it('a typed client logs in, registers and finds a patient, and reads typed problems', async () => {
  const { clinic, token: adminToken } = await clinicWithAdmin(stack, 'typed');
  const staff = await createAccount(stack, adminToken, 'reception', ['staff']);
  const client = clinicClient(stack.url);

  const wrong = await client.login(clinic.slug, 'reception', 'not-the-password');
  expect(wrong.status).toBe(401);
  expect(wrong.problem?.code).toBe('invalid_credentials');

  const first = await client.login(clinic.slug, 'reception', staff.initialPassword);
  expect(first.session?.state).toBe('password_change_required');
  const token = first.session!.token;
  expect((await client.changePassword(token, staff.initialPassword, STRONG_PASSWORD)).status).toBe(204);

  const me = await client.me(token);
  expect(me.me).toMatchObject({ roles: ['staff'] });

  const created = await client.registerPatient(token, { name: '山田 花子', kana: 'ヤマダ ハナコ', birthDate: '1990-04-01' });
  expect(created.status).toBe(201);
  const found = await client.patient(token, created.patient!.id);
  expect(found.patient?.name).toBe('山田 花子');
  const page = await client.searchPatients(token, '山田 花子');
  expect(page.page?.items.map((p) => p.id)).toEqual([created.patient!.id]);

  const missing = await client.patient(token, '00000000-0000-4000-8000-000000000000');
  expect(missing.status).toBe(404);
  expect(missing.problem?.code).toBe('not_found');
});
