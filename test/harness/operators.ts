import { call } from './http';
import type { TestStack } from './stack';

/** Drives the operator API the way a platform admin and their automation do (break-glass to bootstrap). */

export async function createApiKey(stack: TestStack, roles: string[], name = `key-${roles.join('-')}`, token = stack.operatorToken): Promise<{ id: string; key: string }> {
  const reply = await call(stack.operatorUrl, 'POST', '/v1/operator/api-keys', { token, json: { name, roles, expiresInSeconds: 3_600 } });
  if (reply.status !== 201) throw new Error(`createApiKey: ${reply.status} ${reply.text}`);
  return { id: reply.body.apiKey.id, key: reply.body.key };
}

export async function createOperator(stack: TestStack, roles: string[], email: string, token = stack.operatorToken): Promise<{ id: string; initialPassword: string }> {
  const reply = await call(stack.operatorUrl, 'POST', '/v1/operator/operators', { token, json: { email, name: `Operator ${email.split('@')[0]}`, roles } });
  if (reply.status !== 201) throw new Error(`createOperator: ${reply.status} ${reply.text}`);
  return { id: reply.body.operator.id, initialPassword: reply.body.initialPassword };
}
