import { z } from 'zod';
import { emailAddress, nameText } from './fields';
import { scheduleInstant } from './dates';
import type { ContractState } from './contract';

/** Business rules for clinics (tenants), shared by the API and by activities. */

export const TENANT_STATUSES = ['provisioning', 'active', 'suspended'] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

/** Slugs appear in login requests and URLs, so they must be stable, lowercase and unambiguous. */
const RESERVED_SLUGS = new Set(['admin', 'api', 'operator', 'www', 'system', 'root', 'support', 'help']);

export const slugSchema = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$/, 'must be 3-63 characters of a-z, 0-9 and "-", not starting or ending with "-"')
  .refine((s) => !s.includes('--'), 'must not contain "--"')
  .refine((s) => !RESERVED_SLUGS.has(s), 'is reserved');

const nameSchema = nameText(200);

/** Contract addresses receive incident notices: at least one, no duplicates, bounded. */
export const contractEmailsSchema = z
  .array(emailAddress)
  .min(1, 'at least one contract e-mail address is required')
  .max(20, 'at most 20 addresses')
  .transform((list) => [...new Set(list)]);

export const createTenantSchema = z.strictObject({
  slug: slugSchema,
  name: nameSchema,
  contractEmails: contractEmailsSchema,
});
export type CreateTenantInput = z.output<typeof createTenantSchema>;

/** The slug is immutable: clinics' staff type it at every login, and links embed it. */
export const updateTenantSchema = z
  .strictObject({
    name: nameSchema.optional(),
    contractEmails: contractEmailsSchema.optional(),
    status: z.enum(['active', 'suspended']).optional(),
    /**
     * When the contract ends (UTC instant; an offset is converted). Null removes a planned end;
     * a later date extends it. Either cancels what was pending and says so by mail.
     */
    contractEndsAt: scheduleInstant
      .transform((v) => new Date(v))
      .nullable()
      .optional(),
  })
  .refine((v) => Object.keys(v).length > 0, 'at least one of name, contractEmails, status, contractEndsAt is required');
export type UpdateTenantInput = z.output<typeof updateTenantSchema>;

export interface Tenant {
  id: string;
  slug: string;
  name: string;
  contractEmails: string[];
  status: TenantStatus;
  /** UTC, ISO 8601; null while no end is planned. */
  contractEndsAt: string | null;
  contractState: ContractState;
  /** A legal hold pauses the purge after the contract's end. */
  legalHold: { reason: string; since: string } | null;
  createdAt: string;
  updatedAt: string;
}

/** Which status changes an operator may make. Provisioning is finished only by its workflow. */
export function canChangeStatus(from: TenantStatus, to: TenantStatus): boolean {
  if (from === to) return true;
  if (from === 'provisioning') return false;
  return (from === 'active' && to === 'suspended') || (from === 'suspended' && to === 'active');
}
