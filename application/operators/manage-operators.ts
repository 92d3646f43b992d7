import type { AuditContext } from '../../db/audit';
import { isUniqueViolation } from '../../db/errors';
import { recordPlatformEntry } from '../../db/platform-log';
import {
  deleteOperatorPasskeys,
  findOperator,
  insertOperator,
  listOperators,
  lockPlatformAdmins,
  operatorPasskeyCounts,
  revokeOperatorSessions,
  setOperatorPassword,
  markCredentialsIssuer,
  updateOperator,
  type OperatorRow,
} from '../../db/operators';
import { withPlatform, type PlatformTransaction } from '../../db/platform-scope';
import { isUuid } from '../../domain/ids';
import { isLocked } from '../../domain/lockout';
import { holdsWatchingRoles, WATCHING_ROLES, watchingRolesNotHeld, type OperatorRole } from '../../domain/operator-roles';
import { normaliseOperatorEmail, OPERATOR_PASSWORD_POLICY, type OperatorState } from '../../domain/operators';
import { generateInitialPassword } from '../../domain/password-policy';
import { conflict, forbidden, notFound } from '../../domain/problems';
import type { PasswordHasher } from '../../lib/password-hash';
import type { Services } from '../deps';
import { commitPlatformScopeThenDispatch } from '../commit-then-dispatch';
import { operatorAccessNotice } from './operator-access-notice';

/**
 * Platform admins manage operators: create them (with a one-time initial password, shown once),
 * change their roles or name, disable them (their sessions end at once), reset them (a new
 * initial password; passkeys and sessions are gone, so the next login enrols anew). Every change
 * is in the platform's operation log. Operators are never deleted: what they did must stay
 * attributable. `npm run operator` (scripts/operator.ts) calls the same functions on the host.
 */

export interface OperatorView {
  id: string;
  email: string;
  name: string;
  roles: OperatorRole[];
  state: OperatorState;
  locked: boolean;
  passkeyCount: number;
  lastLoginAt: Date | null;
  createdAt: Date;
}

async function view(trx: PlatformTransaction, o: OperatorRow): Promise<OperatorView> {
  return (await views(trx, [o]))[0]!;
}

/** Operators as shown, with one query for their passkeys (not one per operator). */
async function views(trx: PlatformTransaction, rows: readonly OperatorRow[]): Promise<OperatorView[]> {
  const counts = await operatorPasskeyCounts(trx, rows.map((o) => o.id));
  const now = new Date();
  return rows.map((o) => ({
    id: o.id,
    email: o.email,
    name: o.name,
    roles: o.roles,
    state: o.state,
    locked: isLocked(o, now),
    passkeyCount: counts.get(o.id) ?? 0,
    lastLoginAt: o.lastLoginAt,
    createdAt: o.createdAt,
  }));
}

type Deps = Pick<Services, 'db'> & Partial<Pick<Services, 'outbox'>> & { passwords: Pick<PasswordHasher, 'hash'> };

export async function listAllOperators(deps: Pick<Services, 'db'>): Promise<OperatorView[]> {
  return withPlatform(deps.db, async (trx) => views(trx, await listOperators(trx)));
}

/**
 * The role that watches the others (`security`: the security events, the platform log) is given,
 * taken or reset only by someone who holds it (`callerRoles`; break-glass and the host hold them
 * all), else 403 role_not_held. A platform admin without it could otherwise give it to an operator
 * of their own making (whose initial password they see), or strip it from a security operator,
 * reset them, give it back and sign in as them (a re-attack did, mailed but not stopped).
 * Disabling a security operator stays open to every platform admin: it is the emergency path.
 */
function assertMayChangeWatchingRoles(callerRoles: readonly OperatorRole[], before: readonly OperatorRole[], after: readonly OperatorRole[]): void {
  const changed = watchingRolesNotHeld(callerRoles, [...before.filter((r) => !after.includes(r)), ...after.filter((r) => !before.includes(r))]);
  if (changed.length > 0) throw forbidden('role_not_held', `Only an operator who holds ${changed.join(', ')} can give or take it.`);
}

export async function createOperator(
  deps: Deps,
  audit: AuditContext,
  req: { email: string; name: string; roles: OperatorRole[] },
  callerRoles: readonly OperatorRole[],
): Promise<{ operator: OperatorView; initialPassword: string }> {
  assertMayChangeWatchingRoles(callerRoles, [], req.roles);
  const initialPassword = generateInitialPassword(OPERATOR_PASSWORD_POLICY);
  const passwordHash = await deps.passwords.hash(initialPassword);
  const email = normaliseOperatorEmail(req.email);
  const operator = await commitPlatformScopeThenDispatch(deps, async (trx, enqueue) => {
    const row = await insertOperator(trx, {
      email,
      name: req.name,
      roles: req.roles,
      passwordHash,
      initialPasswordExpiresAt: new Date(Date.now() + OPERATOR_PASSWORD_POLICY.initialPasswordTtlSeconds * 1000),
      createdBy: audit.actorId ?? 'host',
      credentialsIssuedByWatcher: holdsWatchingRoles(callerRoles),
    }).catch((err: unknown) => {
      throw isUniqueViolation(err, 'operators_email_key') ? conflict('operator_exists', 'An operator with this e-mail address exists.') : err;
    });
    await recordPlatformEntry(trx, audit, { action: 'operator.create', outcome: 'success', targetType: 'operator', targetId: row.id, details: { roles: req.roles } });
    await enqueue(operatorAccessNotice(audit, 'operator_created', row.id, req.roles));
    return view(trx, row);
  });
  return { operator, initialPassword };
}

/** Loads the operator to change, locked; 404 for an unknown id. */
async function target(trx: PlatformTransaction, id: string): Promise<OperatorRow> {
  const operator = isUuid(id) ? await findOperator(trx, id, { forUpdate: true }) : undefined;
  if (!operator) throw notFound('No such operator.');
  return operator;
}

/** No change may leave the platform without an active platform admin, or lock the caller out by their own hand. */
async function checkAdminsRemain(trx: PlatformTransaction, audit: AuditContext, before: OperatorRow, after: { roles: OperatorRole[]; state: OperatorState }): Promise<void> {
  const stillAdmin = after.state === 'active' && after.roles.includes('platform-admin');
  if (before.id === audit.actorId && !stillAdmin) {
    throw conflict('own_account', 'You cannot disable yourself or take away your own platform-admin role; ask another platform admin.');
  }
  if (stillAdmin || !(before.state === 'active' && before.roles.includes('platform-admin'))) return;
  const others = (await listOperators(trx)).filter((o) => o.id !== before.id && o.state === 'active' && o.roles.includes('platform-admin'));
  if (others.length === 0) throw conflict('last_platform_admin', 'This is the last active platform admin.');
}

export async function updateOperatorAccount(
  deps: Pick<Services, 'db'> & Partial<Pick<Services, 'outbox'>>,
  audit: AuditContext,
  id: string,
  patch: { roles?: OperatorRole[]; state?: OperatorState; name?: string },
  callerRoles: readonly OperatorRole[],
): Promise<OperatorView> {
  return commitPlatformScopeThenDispatch(deps, async (trx, enqueue) => {
    if ((patch.roles !== undefined || patch.state !== undefined) && isUuid(id)) await lockPlatformAdmins(trx, id);
    const before = await target(trx, id);
    // Two people stand behind every widening of access: a platform admin's session, or their
    // stolen passkey, cannot give itself `security` (and with it the security events and the
    // platform log) on its own. Taking a role away from oneself is checked below.
    if (before.id === audit.actorId && patch.roles?.some((r) => !before.roles.includes(r))) {
      throw conflict('own_account', 'You cannot give yourself a role; ask another platform admin.');
    }
    if (patch.roles) assertMayChangeWatchingRoles(callerRoles, before.roles, patch.roles);
    // Whoever issued the operator's current initial password may know it (and may have signed in
    // as them since): a watching role goes only to credentials a watcher issued.
    if (patch.roles?.some((r) => WATCHING_ROLES.includes(r) && !before.roles.includes(r)) && !before.credentialsIssuedByWatcher) {
      throw conflict('reset_by_security_required', 'This operator\'s password was last issued by someone without security, who may know it: reset them yourself first, then give the role.');
    }
    await checkAdminsRemain(trx, audit, before, { roles: patch.roles ?? before.roles, state: patch.state ?? before.state });
    const after = await updateOperator(trx, id, patch);
    // Roles are read on every request, so a change applies at once; a disabled operator's sessions end now.
    if (after.state === 'disabled') await revokeOperatorSessions(trx, id);
    await recordPlatformEntry(trx, audit, {
      action: 'operator.update',
      outcome: 'success',
      targetType: 'operator',
      targetId: id,
      details: { before: { roles: before.roles, state: before.state }, after: { roles: after.roles, state: after.state }, renamed: patch.name !== undefined && patch.name !== before.name },
    });
    // A disabled operator brought back gets every role it holds back: that is a widening too.
    const given = before.state === 'active' ? after.roles.filter((r) => !before.roles.includes(r)) : [];
    if (before.state !== 'active' && after.state === 'active') await enqueue(operatorAccessNotice(audit, 'operator_reenabled', id, after.roles));
    else if (given.length > 0) await enqueue(operatorAccessNotice(audit, 'roles_given', id, given));
    return view(trx, after);
  });
}

/**
 * A new initial password (shown once); passkeys and sessions are removed, a lockout is lifted.
 * Whoever resets an operator can sign in as them until the password is changed, so: an operator
 * holding a role that watches the others (`security`) is reset only by someone who holds it too
 * (403 role_not_held; `callerRoles` as read for this request, break-glass holds them all), and
 * every reset is mailed to the operator and the security addresses (the re-attack took over a
 * security operator this way, unseen).
 */
export async function resetOperator(deps: Deps, audit: AuditContext, id: string, callerRoles: readonly OperatorRole[]): Promise<{ initialPassword: string }> {
  const initialPassword = generateInitialPassword(OPERATOR_PASSWORD_POLICY);
  const passwordHash = await deps.passwords.hash(initialPassword);
  await commitPlatformScopeThenDispatch(deps, async (trx, enqueue) => {
    const operator = await target(trx, id);
    const notHeld = watchingRolesNotHeld(callerRoles, operator.roles);
    if (notHeld.length > 0) {
      throw forbidden('role_not_held', `This operator holds ${notHeld.join(', ')}: only an operator who holds it too can reset them.`);
    }
    await setOperatorPassword(trx, operator.id, passwordHash, { expiresAt: new Date(Date.now() + OPERATOR_PASSWORD_POLICY.initialPasswordTtlSeconds * 1000) });
    await markCredentialsIssuer(trx, operator.id, holdsWatchingRoles(callerRoles));
    const passkeys = await deleteOperatorPasskeys(trx, operator.id);
    await revokeOperatorSessions(trx, operator.id);
    await recordPlatformEntry(trx, audit, { action: 'operator.reset', outcome: 'success', targetType: 'operator', targetId: operator.id, details: { passkeysRemoved: passkeys } });
    await enqueue(operatorAccessNotice(audit, 'operator_reset', operator.id, operator.roles));
  });
  return { initialPassword };
}
