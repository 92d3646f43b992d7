import { z } from 'zod';
import { emailAddress, nameText } from './fields';
import { mayUseRoleGatedWrite, ROLES } from './roles';

/**
 * Login IDs are what staff type, so they are normalised hard: NFKC folds full-width and other
 * compatibility forms, then only lower-case ASCII letters, digits and . _ @ - remain allowed.
 * Look-alike letters from other scripts (Cyrillic "а" for Latin "a") are therefore refused,
 * and "Ｙａｍａｄａ" and "yamada" are the same ID.
 */
export const normaliseLoginId = (raw: string) => raw.normalize('NFKC').trim().toLowerCase();

export const loginIdSchema = z
  .string()
  .max(256, 'must be at most 64 characters')
  .transform(normaliseLoginId)
  .pipe(
    z
      .string()
      .regex(/^[a-z0-9][a-z0-9._@-]{2,63}$/, 'must be 3-64 characters: letters a-z, digits and . _ @ -, starting with a letter or digit'),
  );

const displayNameSchema = nameText(100);
const emailSchema = emailAddress;

export const rolesSchema = z
  .array(z.enum(ROLES))
  .min(1, 'at least one role is required')
  .max(ROLES.length)
  .transform((r) => [...new Set(r)]);

export const createAdminSchema = z.strictObject({ loginId: loginIdSchema, email: emailSchema, displayName: displayNameSchema });

export const createAccountSchema = z.strictObject({
  loginId: loginIdSchema,
  email: emailSchema,
  displayName: displayNameSchema,
  roles: rolesSchema,
});
export type CreateAccountInput = z.output<typeof createAccountSchema>;

export const updateAccountSchema = z
  .strictObject({
    displayName: displayNameSchema.optional(),
    email: emailSchema.optional(),
    roles: rolesSchema.optional(),
    disabled: z.boolean().optional(),
  })
  .refine((v) => Object.keys(v).length > 0, 'at least one of displayName, email, roles, disabled is required');
export type UpdateAccountInput = z.output<typeof updateAccountSchema>;

/**
 * Whether a change to an account hands out access: a role it did not have, the writes of its roles
 * by dropping `auditor` (which holds them back), its way back in after being disabled, or another
 * address for the mail that tells its holder of new sign-ins and password resets. Such a change needs a recent proof from the admin (as creating an account or
 * resetting a password does); taking access away (a role less, disabling) and renaming do not.
 */
export function handsOutAccess(before: { roles: readonly string[]; disabled: boolean; email: string }, patch: UpdateAccountInput): boolean {
  const newRole = patch.roles?.some((r) => !before.roles.includes(r)) ?? false;
  const unrestricted = patch.roles !== undefined && !mayUseRoleGatedWrite(before.roles) && mayUseRoleGatedWrite(patch.roles);
  const enabled = patch.disabled === false && before.disabled;
  const readdressed = patch.email !== undefined && patch.email !== before.email;
  return newRole || unrestricted || enabled || readdressed;
}

/**
 * An account counts as an administrator who can still act: an admin, enabled, not deleted, and
 * not also an auditor (auditors are read-only whatever their other roles: domain/roles.ts), so the
 * last one cannot make itself an auditor and leave the clinic with no one to manage it.
 */
export const isActiveAdmin = (a: { roles: readonly string[]; disabled: boolean; deletedAt: Date | null }) =>
  a.roles.includes('admin') && mayUseRoleGatedWrite(a.roles) && !a.disabled && a.deletedAt === null;

/** The same, as SQL on `accounts` (beside `deleted_at is null` and `not disabled`). */
export const ACTING_ADMIN_ROLES_SQL = `'admin' = any(roles) and not 'auditor' = any(roles)`;
