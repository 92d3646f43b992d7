import { z } from 'zod';
import { scheduleInstant } from './dates';
import { displayText, nameText } from './fields';
import { badRequest } from './problems';
export { reminderMoments } from './change-notice-timing';

/**
 * Notices to clinics (incidents, advance change notices, vulnerability notices): request
 * shapes and the rules the API and the workflows share. Only operators write these texts; they
 * go to every affected clinic's contract addresses and top screen, so they are bounded and never
 * carry anything but what the operator typed.
 */
export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const INCIDENT_STATUSES = ['investigating', 'contained', 'resolved'] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];
export const VULNERABILITY_STATUSES = ['investigating', 'mitigated', 'resolved'] as const;
export type VulnerabilityStatus = (typeof VULNERABILITY_STATUSES)[number];
export const NOTICE_KINDS = ['incident', 'change', 'vulnerability'] as const;
export type NoticeKind = (typeof NOTICE_KINDS)[number];

/** A notice keeps at most this many messages: follow-ups are news, not a chat. */
export const MAX_NOTICE_MESSAGES = 100;
/** At most this many clinics named in one request (beyond that, "all"). */
export const MAX_NAMED_CLINICS = 10_000;

/** A notice's text: free text (line breaks allowed), valid Unicode (an unpaired surrogate was mailed as U+FFFD), NFC, trimmed. */
const body = displayText;

export const affectedClinicsSchema = z.union([
  z.literal('all'),
  z
    .array(z.uuid('must be a clinic id'))
    .min(1, 'name at least one clinic, or "all"')
    .max(MAX_NAMED_CLINICS, `at most ${MAX_NAMED_CLINICS} clinics; use "all"`)
    .transform((ids) => [...new Set(ids.map((id) => id.toLowerCase()))]),
]);
export type AffectedClinics = z.output<typeof affectedClinicsSchema>;

/** How far ahead of our clock an incident's detection time may lie (an operator's clock may run ahead). */
export const DETECTED_AT_SKEW_MS = 5 * 60_000;

export const declareIncidentSchema = z.strictObject({
  title: nameText(200),
  description: body(10_000),
  severity: z.enum(SEVERITIES),
  affectedTenantIds: affectedClinicsSchema,
  // A moment (a bare date would mean midnight UTC, in Japan's morning), not later than now (a few
  // minutes for an operator's clock ahead of ours).
  detectedAt: scheduleInstant.refine((s) => Date.parse(s) <= Date.now() + DETECTED_AT_SKEW_MS, 'must not lie in the future'),
});
export type DeclareIncidentInput = z.output<typeof declareIncidentSchema>;

export const incidentUpdateSchema = z.strictObject({
  status: z.enum(INCIDENT_STATUSES),
  message: body(10_000),
});
export type IncidentUpdateInput = z.output<typeof incidentUpdateSchema>;

export const addAffectedSchema = z.strictObject({ affectedTenantIds: affectedClinicsSchema });

export const createChangeNoticeSchema = z.strictObject({
  title: nameText(200),
  body: body(10_000),
  effectiveAt: scheduleInstant,
  affectedTenantIds: affectedClinicsSchema,
  urgent: z.boolean().optional().default(false),
});
export type CreateChangeNoticeInput = z.output<typeof createChangeNoticeSchema>;

const CVE = /^CVE-\d{4}-\d{4,7}$/;
export const createVulnerabilityNoticeSchema = z.strictObject({
  title: nameText(200),
  cveIds: z.array(z.string().regex(CVE, 'must be a CVE id like CVE-2026-12345')).max(50).transform((ids) => [...new Set(ids)]),
  component: nameText(200),
  severity: z.enum(SEVERITIES),
  status: z.enum(VULNERABILITY_STATUSES),
  body: body(10_000),
});
export type CreateVulnerabilityNoticeInput = z.output<typeof createVulnerabilityNoticeSchema>;

export const vulnerabilityUpdateSchema = z.strictObject({
  status: z.enum(VULNERABILITY_STATUSES),
  message: body(10_000).optional(),
});

/**
 * How many incident reports one person, and one clinic, may file in an hour. Each one mails the
 * operators and every contract address: without a limit any signed-in account could flood both
 * (20 reports at once were 40 mails). A real incident needs one report, and a few more as it
 * develops; past the limit the front end says when to try again, and the operators still have
 * everything reported so far.
 */
export const INCIDENT_REPORT_LIMITS = { windowSeconds: 3600, perAccount: 5, perClinic: 20 } as const;

export const incidentReportSchema = z.strictObject({
  description: body(10_000),
  // One line, as a name: it is quoted inside the operators' mail, where a line break or bidirectional
  // override would let the reporter forge lines of that mail.
  contact: nameText(500),
});

export const noticeFeedQuery = z.strictObject({
  kind: z.enum(NOTICE_KINDS).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(512).optional(),
});

/** Status moves forward only (a resolved incident or vulnerability is final). */
const ORDER: Record<string, number> = { investigating: 0, contained: 1, mitigated: 1, resolved: 2 };
export function statusMayFollow(from: string, to: string): boolean {
  if (from === 'resolved') return false;
  return ORDER[to]! >= ORDER[from]!;
}

/**
 * A change announced less than the minimum lead time ahead is refused unless flagged urgent:
 * clinics are promised time to prepare.
 */
export function checkLeadTime(effectiveAtMs: number, nowMs: number, minLeadSec: number, urgent: boolean): void {
  if (effectiveAtMs <= nowMs) throw badRequest('validation_failed', 'effectiveAt must be in the future.', { errors: [{ field: 'effectiveAt', message: 'must be in the future' }] });
  if (!urgent && effectiveAtMs - nowMs < minLeadSec * 1000) {
    throw badRequest('too_late', `A change must be announced at least ${Math.round(minLeadSec / 3600)} hours before it takes effect; send "urgent": true to announce it anyway.`, {
      minimumLeadSeconds: minLeadSec,
    });
  }
}
