import type { ParameterizedContext } from 'koa';
import { badRequest } from '../domain/problems';

/**
 * The `Idempotency-Key` header, one rule for every route that takes it (api/route.ts
 * `idempotencyKey`): 8–128 characters of A-Z a-z 0-9 . _ : -, chosen by the client.
 */
export const IDEMPOTENCY_KEY_PATTERN = '^[A-Za-z0-9._:-]{8,128}$';
const VALID = new RegExp(IDEMPOTENCY_KEY_PATTERN);
const refuse = () => badRequest('idempotency_key_required', 'Send an Idempotency-Key header (8-128 characters of A-Z a-z 0-9 . _ : -).');

/** The key a route requires: 400 idempotency_key_required when it is missing or malformed. */
export function requiredIdempotencyKey(ctx: ParameterizedContext): string {
  const key = ctx.get('Idempotency-Key');
  if (!VALID.test(key)) throw refuse();
  return key;
}

/** The key a route honours when sent: undefined when absent, 400 when malformed (an empty header too: the client meant to send one). */
export function optionalIdempotencyKey(ctx: ParameterizedContext): string | undefined {
  if (ctx.req.headers['idempotency-key'] === undefined) return undefined;
  const key = ctx.get('Idempotency-Key');
  if (!VALID.test(key)) throw refuse();
  return key;
}
