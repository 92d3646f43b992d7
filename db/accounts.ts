import type { CreateAccountInput, UpdateAccountInput } from '../domain/account';
import { ACTING_ADMIN_ROLES_SQL, isActiveAdmin } from '../domain/account';
import { isUuid } from '../domain/ids';
import { CURSOR_TS_SQL, type Keyset } from '../domain/pagination';
import { conflict, notFound } from '../domain/problems';
import { isUniqueViolation } from './errors';
import { AccountRow, type OnboardingState } from './models/account';
import { GroupMemberRow } from './models/group';
import { PasswordHistoryRow } from './models/password-history';
import { WebauthnCredentialRow } from './models/webauthn';
import { revokeAccountSessions } from './sessions';
import type { TenantTransaction } from './tenant-scope';
import { passkeyCounts } from './webauthn';

/**
 * Accounts of one clinic. Every function runs inside that clinic's withTenant() transaction.
 * Passwords arrive here already hashed: hashing is slow on purpose and never runs while a
 * transaction holds a connection (and perhaps a row lock).
 */

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
  return (await toViews(trx, [a]))[0]!;
}

/**
 * A page of accounts as shown, with one query for their passkeys (one per account was a round
 * trip each, sent at once on the transaction's one connection).
 */
export async function toViews(trx: TenantTransaction, rows: readonly AccountRow[]): Promise<AccountView[]> {
  const counts = await passkeyCounts(trx, rows.map((a) => a.id));
  const now = Date.now();
  return rows.map((a) => view(a, counts.get(a.id) ?? 0, now));
}

function view(a: AccountRow, passkeys: number, now: number): AccountView {
  const locked = a.lockedUntil !== null && a.lockedUntil.getTime() > now;
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

/** An initial password, hashed, and when it stops working if unused. */
export interface InitialPassword {
  passwordHash: string;
  expiresAt: Date;
}

export async function insertAccount(trx: TenantTransaction, input: CreateAccountInput, initial: InitialPassword): Promise<AccountRow> {
  try {
    return await AccountRow.query(trx).insertAndFetch({
      ...input,
      passwordHash: initial.passwordHash,
      passwordIsInitial: true,
      initialPasswordExpiresAt: initial.expiresAt,
      onboardingState: 'awaiting_first_login',
    });
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw conflict('login_id_taken', `The login ID "${input.loginId}" is already in use in this clinic.`);
    }
    throw err;
  }
}

/** An existing (not deleted) account of this clinic, or undefined: another clinic's id is simply not found. */
export async function findAccount(trx: TenantTransaction, id: string, opts: { forUpdate?: boolean } = {}): Promise<AccountRow | undefined> {
  if (!isUuid(id)) return undefined;
  const q = AccountRow.query(trx).findById(id).whereNull('deletedAt');
  if (opts.forUpdate) q.forUpdate();
  return q;
}

/** The same, or 404. */
export async function getAccount(trx: TenantTransaction, id: string, opts: { forUpdate?: boolean } = {}): Promise<AccountRow> {
  const account = await findAccount(trx, id, opts);
  if (!account) throw notFound('No such account.');
  return account;
}

export const findByLoginId = (trx: TenantTransaction, loginId: string) =>
  AccountRow.query(trx).findOne({ loginId }).whereNull('deletedAt');

/** The clinic's administrators who can act (not disabled, not deleted), oldest first. */
export const activeAdmins = (trx: TenantTransaction) =>
  AccountRow.query(trx).whereNull('deletedAt').where({ disabled: false }).whereRaw(ACTING_ADMIN_ROLES_SQL).orderBy('createdAt');

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
    .whereRaw(ACTING_ADMIN_ROLES_SQL)
    .forUpdate();
  if (others.length === 0) throw conflict('last_admin', 'This is the clinic\'s last active administrator.');
}

/**
 * Before a change that may take an administrator away: every active admin of the clinic locked,
 * in id order. Locking the target first and the others after made two admins demoting each other
 * at the same moment lock in opposite orders and deadlock (a 500); in one order they queue.
 */
async function lockAdminsIfAdmin(trx: TenantTransaction, id: string): Promise<void> {
  if (!isActiveAdmin(await getAccount(trx, id))) return;
  // The target in the same ordered statement: if another change demoted it meanwhile, it is no
  // longer among the admins, and locking it afterwards (getAccount forUpdate) would be out of order.
  await AccountRow.query(trx)
    .where((q) => q.where((admins) => admins.whereNull('deletedAt').where({ disabled: false }).whereRaw(ACTING_ADMIN_ROLES_SQL)).orWhere({ id }))
    .orderBy('id')
    .forUpdate();
}

/**
 * The account a change is about, locked as updateAccount locks it (the admins first, in id order,
 * then the account): what a rule decides on is the row as it will be changed, not a copy that a
 * concurrent change (a disable) may overtake before this one commits.
 */
export async function lockAccountForChange(trx: TenantTransaction, id: string): Promise<AccountRow> {
  await lockAdminsIfAdmin(trx, id);
  return getAccount(trx, id, { forUpdate: true });
}

export async function updateAccount(trx: TenantTransaction, id: string, patch: UpdateAccountInput): Promise<AccountRow> {
  await lockAdminsIfAdmin(trx, id);
  const account = await getAccount(trx, id, { forUpdate: true });
  const after = { ...account, ...patch } as AccountRow;
  if (isActiveAdmin(account) && !isActiveAdmin(after)) await assertNotLastAdmin(trx, account);
  const updated = await AccountRow.query(trx).patchAndFetchById(id, { ...patch, updatedAt: trx.fn.now() as never });
  if (patch.disabled) await revokeAccountSessions(trx, id);
  return updated;
}

/** Returns the account as it was before. */
export async function deleteAccount(trx: TenantTransaction, id: string): Promise<AccountRow> {
  await lockAdminsIfAdmin(trx, id);
  const account = await getAccount(trx, id, { forUpdate: true });
  await assertNotLastAdmin(trx, account);
  await AccountRow.query(trx).patch({ deletedAt: trx.fn.now() as never, updatedAt: trx.fn.now() as never }).where({ id });
  await revokeAccountSessions(trx, id);
  await GroupMemberRow.query(trx).delete().where({ accountId: id });
  await WebauthnCredentialRow.query(trx).delete().where({ accountId: id });
  return account;
}

/** An administrator's reset: a new initial password, onboarding from the start, no lockout, no sessions. */
export async function setInitialPassword(trx: TenantTransaction, id: string, initial: InitialPassword): Promise<AccountRow> {
  const before = await getAccount(trx, id, { forUpdate: true });
  // The password being replaced joins the history, as a change's does: otherwise a reset would
  // let its owner choose it again next (and keep one password past the policy's maximum age).
  await PasswordHistoryRow.query(trx).insert({ accountId: id, passwordHash: before.passwordHash });
  const account = await AccountRow.query(trx).patchAndFetchById(id, {
    passwordHash: initial.passwordHash,
    passwordIsInitial: true,
    initialPasswordExpiresAt: initial.expiresAt,
    onboardingState: 'awaiting_first_login',
    failedLoginCount: 0,
    lockedUntil: null,
    updatedAt: trx.fn.now() as never,
  });
  await revokeAccountSessions(trx, id);
  return account;
}

/** The account's own change: the old hash joins the history, and the initial password (if any) is gone. */
export async function replacePassword(trx: TenantTransaction, account: AccountRow, passwordHash: string): Promise<void> {
  await PasswordHistoryRow.query(trx).insert({ accountId: account.id, passwordHash: account.passwordHash });
  await AccountRow.query(trx)
    .patch({ passwordHash, passwordIsInitial: false, initialPasswordExpiresAt: null, passwordChangedAt: new Date(), updatedAt: trx.fn.now() as never })
    .where({ id: account.id });
}

/** The hashes of the account's earlier passwords, newest first (the current one is not among them). */
export async function previousPasswordHashes(trx: TenantTransaction, accountId: string, count: number): Promise<string[]> {
  if (count <= 0) return [];
  const rows = await PasswordHistoryRow.query(trx).where({ accountId }).orderBy('createdAt', 'desc').limit(count);
  return rows.map((r) => r.passwordHash);
}

export async function setOnboardingState(trx: TenantTransaction, id: string, onboardingState: OnboardingState): Promise<void> {
  await AccountRow.query(trx).patch({ onboardingState, updatedAt: trx.fn.now() as never }).where({ id });
}

/** A successful login forgets earlier failures. */
export async function recordLoginSuccess(trx: TenantTransaction, id: string, at: Date): Promise<void> {
  await AccountRow.query(trx).patch({ failedLoginCount: 0, lockedUntil: null, lastLoginAt: at }).where({ id });
}

export async function unlockAccount(trx: TenantTransaction, id: string): Promise<void> {
  await getAccount(trx, id);
  await AccountRow.query(trx).patch({ failedLoginCount: 0, lockedUntil: null, updatedAt: trx.fn.now() as never }).where({ id });
}
