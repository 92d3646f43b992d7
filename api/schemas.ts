import { z } from 'zod';
import { CONTRACT_STATES } from '../domain/contract';
import { TENANT_STATUSES } from '../domain/tenant';
import { canonicalId } from '../domain/ids';
import { MAX_CURSOR_LENGTH } from '../domain/pagination';

/** Response shapes, used only for /openapi.json (request shapes live with their rules in domain/). */

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.string().describe('Stable machine-readable error code'),
    detail: z.string().optional(),
    instance: z.string(),
    requestId: z.string(),
    errors: z
      .array(
        z.union([
          z.object({ field: z.string().describe('The offending field (dotted path; `(body)` for the whole body)'), message: z.string() }),
          z.object({ rule: z.string().describe('A password-policy rule the password does not meet (`password_policy`)'), message: z.string() }),
        ]),
      )
      .optional()
      .describe('With `validation_failed`: every bad field; with `password_policy`: every unmet rule'),
    lockedUntil: z.string().datetime().optional().describe('With `account_locked`: when the lock ends (UTC)'),
    minimumLeadSeconds: z.number().int().optional().describe('With `too_late`: how long before the change its first notice must go out'),
    horizonDays: z.number().int().optional().describe('With `beyond_booking_horizon`: how many days after today (Japan) the clinic takes bookings'),
    bookableUntil: z.string().datetime().optional().describe('With `beyond_booking_horizon`: a slot must start before this instant (UTC)'),
  })
  .meta({ id: 'Problem' });

export const tenantSchema = z
  .object({
    id: z.string().uuid(),
    slug: z.string(),
    name: z.string(),
    contractEmails: z.array(z.string().email()),
    status: z.enum(TENANT_STATUSES),
    contractEndsAt: z.string().datetime().nullable().describe('UTC, ISO 8601; null while no end is planned'),
    contractState: z.enum(CONTRACT_STATES).describe('active → ending → read_only (after the end) → purging → purged (README: Contract end)'),
    legalHold: z
      .object({ reason: z.string(), since: z.string().datetime().describe('UTC, ISO 8601') })
      .nullable()
      .describe('While set, the purge after the grace period waits'),
    createdAt: z.string().datetime().describe('UTC, ISO 8601'),
    updatedAt: z.string().datetime().describe('UTC, ISO 8601'),
  })
  .meta({ id: 'Tenant' });

export const tenantPageSchema = z.object({
  items: z.array(tenantSchema),
  nextCursor: z.string().nullable().describe('Pass as `cursor` to get the next page; null on the last page'),
});

/** A path's id (canonicalId: a UUID in lower case). */
export const pathId = z.string().min(1).max(64).transform(canonicalId);

export const idParams = z.strictObject({ id: pathId });

/**
 * The query of a list that pages only when asked (areas, files, groups, doctors): without `limit`
 * every item, as before pages existed; with it one page and its `nextCursor`. A cursor only pages
 * with a limit. Lists by name take longer cursors (the name rides in them).
 */
export const optionalPageQuery = (maxCursorLength = MAX_CURSOR_LENGTH) =>
  z
    .strictObject({ limit: z.coerce.number().int().min(1).max(200).optional(), cursor: z.string().max(maxCursorLength).optional() })
    .refine((q) => q.cursor === undefined || q.limit !== undefined, { message: 'a cursor needs a limit', path: ['cursor'] });
