import type { CreateAccountInput, UpdateAccountInput } from '../domain/account';
import { isActiveAdmin } from '../domain/account';
import { CURSOR_TS_SQL, type Keyset } from '../domain/pagination';
import { generateInitialPassword, type PasswordPolicy } from '../domain/password-policy';
import { conflict, notFound } from '../domain/problems';
import { hashPassword } from '../lib/password-hash';
import { AccountRow, type OnboardingState } from './models/account';
import { GroupMemberRow } from './models/group';
import { WebauthnCredentialRow } from './models/webauthn';
import { revokeAccountSessions } from './sessions';
import type { TenantTransaction } from './tenant-scope';
import { isUuid } from '../domain/ids';
import { isUniqueViolation } from './errors';

/** Accounts of one clinic. Every function runs inside that clinic's withTenant() transaction. */

export interface AccountView {
  id: string;
  loginId: string;
  email: string;
  displayName: string;
  roles: string[];
  disabled: boolean;
  onboardingState: OnboardingState;
  locked: boolean;
  lockedUntil: string | null;
  passkeyCount: number;
  lastLoginAt: string | null;
  passwordChangedAt: string;
  createdAt: string;
  updatedAt: string;
}

export async function toView(trx: TenantTransaction, a: AccountRow): Promise<AccountView> {
  const passkeys = await passkeyCount(trx, a.id);
  const locked = a.lockedUntil !== null && a.lockedUntil.getTime() > Date.now();
  return {
    id: a.id,
    loginId: a.loginId,
    email: a.email,
    displayName: a.displayName,
    roles: a.roles,
    disabled: a.disabled,
    onboardingState: a.onboardingState,
    locked,
    lockedUntil: locked ? a.lockedUntil!.toISOString() : null,
    passkeyCount: passkeys,
    lastLoginAt: a.lastLoginAt?.toISOString() ?? null,
    passwordChangedAt: a.passwordChangedAt.toISOString(),
    createdAt: a.createdAt.toISOString(),
    updatedAt: a.updatedAt.toISOString(),
  };
}

export async function passkeyCount(trx: TenantTransaction, accountId: string): Promise<number> {
  const row = (await WebauthnCredentialRow.query(trx).where({ accountId }).count('* as n').first()) as unknown as { n: string } | undefined;
  return Number(row?.n ?? 0);
}

export async function createAccount(
  trx: TenantTransaction,
  input: CreateAccountInput,
  policy: PasswordPolicy,
): Promise<{ account: AccountRow; initialPassword: string }> {
  const initialPassword = generateInitialPassword(policy);
  const passwordHash = await hashPassword(initialPassword);
  try {
    const account = await AccountRow.query(trx).insertAndFetch({
      ...input,
      passwordHash,
      passwordIsInitial: true,
      initialPasswordExpiresAt: new Date(Date.now() + policy.initialPasswordTtlSeconds * 1000),
      onboardingState: 'awaiting_first_login',
    });
    return { account, initialPassword };
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw conflict('login_id_taken', `The login ID "${input.loginId}" is already in use in this clinic.`);
    }
    throw err;
  }
}

/** An existing (not deleted) account of this clinic, or 404: another clinic's id is simply not found. */
export async function getAccount(trx: TenantTransaction, id: string, opts: { forUpdate?: boolean } = {}): Promise<AccountRow> {
  if (!isUuid(id)) throw notFound('No such account.');
  const q = AccountRow.query(trx).findById(id).whereNull('deletedAt');
  if (opts.forUpdate) q.forUpdate();
  const account = await q;
  if (!account) throw notFound('No such account.');
  return account;
}

export const findByLoginId = (trx: TenantTransaction, loginId: string) =>
  AccountRow.query(trx).findOne({ loginId }).whereNull('deletedAt');

export async function listAccounts(trx: TenantTransaction, opts: { limit: number; after?: Keyset }) {
  const q = AccountRow.query(trx)
    .select('accounts.*', trx.raw(CURSOR_TS_SQL))
    .whereNull('deletedAt')
    .orderBy([{ column: 'createdAt' }, { column: 'id' }])
    .limit(opts.limit + 1);
  if (opts.after) q.whereRaw('(created_at, id) > (?::timestamptz, ?::uuid)', [opts.after.createdAt, opts.after.id]);
  const rows = (await q) as Array<AccountRow & { cursorTs: string }>;
  const page = rows.slice(0, opts.limit);
  const last = page[page.length - 1];
  return {
    rows: page,
    next: rows.length > opts.limit && last ? { createdAt: last.cursorTs, id: last.id } : null,
  };
}

/**
 * A clinic must keep at least one administrator who can act. The other admins' rows are
 * locked, so two admins demoting each other at the same moment cannot both succeed.
 */
async function assertNotLastAdmin(trx: TenantTransaction, account: AccountRow): Promise<void> {
  if (!isActiveAdmin(account)) return;
  const others = await AccountRow.query(trx)
    .whereNot({ id: account.id })
    .whereNull('deletedAt')
    .where({ disabled: false })
    .whereRaw(`'admin' = any(roles)`)
    .forUpdate();
  if (others.length === 0) throw conflict('last_admin', 'This is the clinic\'s last active administrator.');
}

export async function updateAccount(trx: TenantTransaction, id: string, patch: UpdateAccountInput): Promise<AccountRow> {
  const account = await getAccount(trx, id, { forUpdate: true });
  const after = { ...account, ...patch } as AccountRow;
  if (isActiveAdmin(account) && !isActiveAdmin(after)) await assertNotLastAdmin(trx, account);
  const updated = await AccountRow.query(trx).patchAndFetchById(id, { ...patch, updatedAt: trx.fn.now() as never });
  if (patch.disabled) await revokeAccountSessions(trx, id);
  return updated;
}

export async function deleteAccount(trx: TenantTransaction, id: string): Promise<void> {
  const account = await getAccount(trx, id, { forUpdate: true });
  await assertNotLastAdmin(trx, account);
  await AccountRow.query(trx).patch({ deletedAt: trx.fn.now() as never, updatedAt: trx.fn.now() as never }).where({ id });
  await revokeAccountSessions(trx, id);
  await GroupMemberRow.query(trx).delete().where({ accountId: id });
  await WebauthnCredentialRow.query(trx).delete().where({ accountId: id });
}

export async function resetPassword(trx: TenantTransaction, id: string, policy: PasswordPolicy): Promise<{ account: AccountRow; initialPassword: string }> {
  await getAccount(trx, id, { forUpdate: true });
  const initialPassword = generateInitialPassword(policy);
  const account = await AccountRow.query(trx).patchAndFetchById(id, {
    passwordHash: await hashPassword(initialPassword),
    passwordIsInitial: true,
    initialPasswordExpiresAt: new Date(Date.now() + policy.initialPasswordTtlSeconds * 1000),
    onboardingState: 'awaiting_first_login',
    failedLoginCount: 0,
    lockedUntil: null,
    updatedAt: trx.fn.now() as never,
  });
  await revokeAccountSessions(trx, id);
  return { account, initialPassword };
}

export async function unlockAccount(trx: TenantTransaction, id: string): Promise<void> {
  await getAccount(trx, id);
  await AccountRow.query(trx).patch({ failedLoginCount: 0, lockedUntil: null, updatedAt: trx.fn.now() as never }).where({ id });
}
