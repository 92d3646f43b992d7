import { insertAccount } from '../../db/accounts';
import { recordAudit } from '../../db/audit';
import { getTenant } from '../../db/tenants';
import type { CreateAccountInput } from '../../domain/account';
import { contractSettled } from '../../domain/contract';
import { conflict } from '../../domain/problems';
import { commitThenDispatch } from '../commit-then-dispatch';
import { withRefusalsLogged } from '../audit/refusals';
import type { Actor, Services, SessionActor } from '../deps';
import { requireRecentProofFirst } from '../auth/reauthenticate';
import { issueInitialPassword } from './initial-password';
import { clinicAccessNotice } from '../operators/clinic-access-notice';
import { startOnboarding } from './onboarding';

/**
 * A clinic admin (or an operator, for a clinic's first admin) creates an account: the account,
 * its log entry and the start of its onboarding workflow commit together. The admin may choose
 * the initial password (checked against the clinic's policy, never returned); otherwise a random
 * one is generated and returned once. Either way it must be changed at first login.
 */
export async function createAccount(
  deps: Pick<Services, 'db' | 'outbox' | 'passwords' | 'log'>,
  actor: Actor,
  tenantId: string,
  input: CreateAccountInput,
  opts: { initialPassword?: string; byOperator?: boolean; proofOf?: SessionActor } = {},
): Promise<{ accountId: string; initialPassword?: string }> {
  // A refusal (409 login_id_taken, 400 for a chosen password the policy refuses, 403
  // reauthentication_required) is logged as denied.
  const attempt = { action: 'account.create', targetType: 'account', details: { loginId: input.loginId, roles: input.roles } };
  return withRefusalsLogged(deps, tenantId, actor.audit, attempt, async () => {
    if (opts.proofOf) await requireRecentProofFirst(deps, opts.proofOf);
    return create(deps, actor, tenantId, input, opts);
  });
}

/**
 * A clinic admin creates an account in their clinic: with a password or passkey proved in the
 * last minutes, since the account is a way in that outlives the admin's session.
 */
export const createClinicAccount = (
  deps: Pick<Services, 'db' | 'outbox' | 'passwords' | 'log'>,
  actor: SessionActor,
  input: CreateAccountInput,
  opts: { initialPassword?: string } = {},
) => createAccount(deps, actor, actor.tenantId, input, { ...opts, proofOf: actor });

async function create(
  deps: Pick<Services, 'db' | 'outbox' | 'passwords'>,
  actor: Actor,
  tenantId: string,
  input: CreateAccountInput,
  opts: { initialPassword?: string; byOperator?: boolean },
): Promise<{ accountId: string; initialPassword?: string }> {
  const chosen = opts.initialPassword === undefined ? undefined : { password: opts.initialPassword, loginId: input.loginId };
  const { initialPassword, initial } = await issueInitialPassword(deps, tenantId, chosen);
  return commitThenDispatch(deps, tenantId, async (trx, enqueue) => {
    // Hashing may have waited in the queue: a clinic admin's request re-checks the clinic as this
    // transaction begins (asClinicWrite). An operator may still add an admin to a read-only clinic, to help it export.
    const account = await insertAccount(trx, input, initial);
    await recordAudit(trx, actor.audit, {
      action: 'account.create',
      outcome: 'success',
      targetType: 'account',
      targetId: account.id,
      details: { loginId: account.loginId, roles: account.roles, passwordOrigin: chosen ? 'admin' : 'generated' },
    });
    await enqueue(startOnboarding({ tenantId, accountId: account.id, initialPasswordExpiresAt: account.initialPasswordExpiresAt! }));
    // One of ours made an administrator of the clinic: the clinic is told, whoever asked for it.
    if (opts.byOperator) await enqueue(clinicAccessNotice(tenantId, 'admin_created', account.id));
    return { accountId: account.id, ...(initialPassword === undefined ? {} : { initialPassword }) };
  });
}

/**
 * An operator creates a clinic's administrator (404 for a clinic that does not exist); the
 * clinic's contract addresses and administrators are mailed about it (clinicAccessNotice).
 */
export async function createClinicAdmin(
  deps: Pick<Services, 'db' | 'outbox' | 'passwords' | 'log'>,
  actor: Actor,
  tenantId: string,
  input: Omit<CreateAccountInput, 'roles'>,
): Promise<{ accountId: string; initialPassword?: string }> {
  const tenant = await getTenant(deps.db, tenantId);
  // No personal data is written to a clinic after its deletion began (its certificate says so).
  if (contractSettled(tenant.contractState)) throw conflict('purge_started', 'This clinic\'s data is being or has been deleted; no account can be added to it.');
  return createAccount(deps, actor, tenant.id, { ...input, roles: ['admin'] }, { byOperator: true });
}
