import { z } from 'zod';
import { windowInstant } from './dates';
import { badRequest } from './problems';
import { canonicalId } from './ids';

/**
 * Filters for reading the operation log. Windows are bounded: by default the last
 * AUDIT_DEFAULT_WINDOW_DAYS, at most AUDIT_MAX_WINDOW_DAYS per request (export older periods
 * window by window), so no request can scan a clinic's whole history by accident.
 */
const DAY_MS = 86_400_000;
const ACTORS = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|operator|system)$/i;

export const auditFilterSchema = z.strictObject({
  from: windowInstant.optional(),
  to: windowInstant.optional(),
  // One spelling: ids and the words in lower case.
  actor: z.string().regex(ACTORS, 'must be an account id, "operator" or "system"').transform((s) => s.toLowerCase()).optional(),
  action: z.string().regex(/^[a-z][a-z0-9_.-]{0,63}\*?$/, 'must be an action like account.create, or a prefix like account.*').optional(),
  target: z.string().min(1).max(128).transform(canonicalId).optional(),
  outcome: z.enum(['success', 'denied', 'failed']).optional(),
});

export type AuditFilterQuery = z.output<typeof auditFilterSchema>;

/** How long a window one request may cover (configuration). */
export interface AuditWindowLimits {
  defaultWindowDays: number;
  maxWindowDays: number;
}

export const auditListSchema = auditFilterSchema.extend({
  cursor: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export interface AuditFilter {
  from: Date;
  to: Date;
  actor?: string;
  /** Exact action, or a prefix when `actionPrefix` is set. */
  action?: string;
  actionPrefix?: boolean;
  target?: string;
  outcome?: 'success' | 'denied' | 'failed';
}

export function resolveAuditFilter(
  q: AuditFilterQuery,
  limits: AuditWindowLimits,
  now = new Date(),
): AuditFilter {
  const to = q.to ? new Date(q.to) : now;
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - limits.defaultWindowDays * DAY_MS);
  if (from.getTime() > to.getTime()) throw badRequest('invalid_range', '"from" is after "to".');
  if (to.getTime() - from.getTime() > limits.maxWindowDays * DAY_MS) {
    throw badRequest('range_too_large', `A request covers at most ${limits.maxWindowDays} days; split the period.`);
  }
  const prefix = q.action?.endsWith('*') ?? false;
  return {
    from,
    to,
    actor: q.actor?.toLowerCase(),
    action: prefix ? q.action!.slice(0, -1) : q.action,
    actionPrefix: prefix,
    target: q.target,
    outcome: q.outcome,
  };
}

/** Log cursors carry the sequence number of the last entry seen (newest first). */
export { encodeSeqCursor as encodeAuditCursor, decodeSeqCursor as decodeAuditCursor } from './pagination';
