import { OPERATOR_ROLES, type OperatorRole } from '../../domain/operator-roles';
import { openApiRoutes } from '../../scripts/openapi';
import { call } from '../harness/http';
import { createApiKey } from '../harness/operators';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * The role matrix (README: Operators): every operator route, as declared, against an API key of
 * each role. A role the route names gets past authorisation (whatever the route then answers to
 * the deliberately useless request: 400, 404, or 403 operator_session_required for the sign-in
 * steps); any other role gets 403 operator_role_required. Generated from the declarations, so a
 * new route is covered by itself.
 *
 * The requests do as little as they can: ids are random (404), bodies are empty objects (400 for
 * every route with a body), and no worker runs, so a started workflow never executes.
 */
const routes = openApiRoutes('operator').filter((r) => r.security === 'operator');
const cases = routes.flatMap((r) => OPERATOR_ROLES.map((role) => [`${r.method.toUpperCase()} ${r.path}`, role, r.operatorRoles!.includes(role)] as const));
const pathOf = (p: string) => p.replace(/:[A-Za-z]+/g, '00000000-0000-4000-8000-000000000000');

let stack: TestStack;
const keys = new Map<OperatorRole, string>();

beforeAll(async () => {
  stack = await startTestStack({}, { worker: false });
  for (const role of OPERATOR_ROLES) keys.set(role, (await createApiKey(stack, [role])).key);
});
afterAll(() => stack?.stop());

it('covers every operator route', () => {
  expect(routes.length).toBeGreaterThanOrEqual(30);
  expect(routes.every((r) => r.path.startsWith('/v1/operator/'))).toBe(true);
});

it.each(cases)('%s as %s: allowed = %s', async (name, role, allowed) => {
  const route = routes.find((r) => `${r.method.toUpperCase()} ${r.path}` === name)!;
  const reply = await call(stack.operatorUrl, route.method.toUpperCase(), pathOf(route.path), { token: keys.get(role), ...(route.body ? { json: {} } : {}) });
  expect(reply.status).not.toBe(401);
  if (allowed) {
    expect([reply.status, reply.body?.code]).not.toEqual([403, 'operator_role_required']);
    expect(reply.status).toBeLessThan(500);
  } else {
    expect([reply.status, reply.body?.code]).toEqual([403, 'operator_role_required']);
  }
});
