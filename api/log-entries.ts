import { z } from 'zod';
import type { AuditRecord } from '../db/audit';

/**
 * How an operation-log entry is answered, for a clinic's log (GET /v1/audit-logs) and the
 * platform's (GET /v1/operator/platform-log): the same columns, one shape.
 */
export const logEntrySchema = (id: string, about: { seq: string; name: string }) =>
  z
    .object({
      seq: z.string().describe(about.seq),
      occurredAt: z.string().describe('UTC, microseconds, from the database clock'),
      actor: z.object({
        type: z.enum(['account', 'operator', 'system', 'anonymous']),
        id: z.string().nullable(),
        roles: z.array(z.string()),
        name: z.string().nullable().describe(about.name),
      }),
      action: z.string(),
      target: z.object({ type: z.string().nullable(), id: z.string().nullable() }),
      outcome: z.enum(['success', 'denied', 'failed']),
      clientIp: z.string().nullable(),
      userAgent: z.string().nullable(),
      requestId: z.string().nullable(),
      details: z.record(z.string(), z.unknown()),
      hash: z.string().describe('SHA-256 of the previous entry\'s hash and this entry, hex'),
    })
    .meta({ id });

/** An entry as answered; `name` is the actor's name as that log keeps it. */
export const logEntryView = (r: AuditRecord, name: string | null) => ({
  seq: r.seq,
  occurredAt: r.occurred_at,
  actor: { type: r.actor_type, id: r.actor_id, roles: r.actor_roles, name },
  action: r.action,
  target: { type: r.target_type, id: r.target_id },
  outcome: r.outcome,
  clientIp: r.client_ip,
  userAgent: r.user_agent,
  requestId: r.request_id,
  details: r.details,
  hash: r.hash,
});

/** A position in the chain as the entries show it: decimal digits only (not `0x10`, `1e3` or ` 16`). */
const seqParam = z.string().regex(/^[1-9]\d{0,15}$/, 'a positive decimal integer').transform(Number);
export const chainRangeQuery = z.strictObject({
  fromSeq: seqParam.optional(),
  toSeq: seqParam.optional(),
});

/** The answer of a chain check. */
export const chainVerificationSchema = z.object({
  ok: z.boolean(),
  checked: z.number().int(),
  fromSeq: z.number().int().nullable(),
  toSeq: z.number().int().nullable(),
  headSeq: z.number().int().nullable(),
  firstBroken: z.object({ seq: z.number().int(), reason: z.string() }).nullable(),
});
