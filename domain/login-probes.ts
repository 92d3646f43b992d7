import { z } from 'zod';
import { auditFilterSchema, resolveAuditFilter } from './audit-query';
import { badRequest } from './problems';

/**
 * Reading the probe record (logins to unknown login IDs and clinics, per network and minute):
 * the operation log's window rules — by default the last day, at most the 90 days the records
 * are kept — and a keyset cursor on (minute, network).
 */
export const LOGIN_PROBE_WINDOW = { defaultWindowDays: 1, maxWindowDays: 90 };

export const loginProbeQuery = auditFilterSchema.pick({ from: true, to: true }).extend({
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export interface ProbeKeyset {
  minute: string;
  clientNet: string;
}

export function resolveProbeWindow(q: { from?: string; to?: string }, now = new Date()): { from: Date; to: Date } {
  const { from, to } = resolveAuditFilter(q, LOGIN_PROBE_WINDOW, now);
  return { from, to };
}

export const encodeProbeCursor = (k: ProbeKeyset) => Buffer.from(JSON.stringify([k.minute, k.clientNet])).toString('base64url');

export function decodeProbeCursor(cursor: string | undefined): ProbeKeyset | undefined {
  if (cursor === undefined) return undefined;
  try {
    const [minute, clientNet] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof minute === 'string' && !Number.isNaN(Date.parse(minute)) && typeof clientNet === 'string' && clientNet.length <= 64) return { minute, clientNet };
  } catch {
    // fall through
  }
  throw badRequest('invalid_cursor', 'The cursor is malformed.');
}
