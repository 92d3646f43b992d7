import { getAccount } from '../../db/accounts';
import { recordAudit } from '../../db/audit';
import { getPractitioner, insertPractitioner, linkAccount, replaceAvailability } from '../../db/practitioners';
import { badRequest } from '../../domain/problems';
import { withTenant, type TenantTransaction } from '../../db/tenant-scope';
import type { Availability } from '../../domain/availability';
import type { CreatePractitionerInput, Practitioner } from '../../domain/practitioner';
import type { ClinicActor, Services } from '../deps';

/**
 * The account a doctor's schedule is linked to: an enabled account with the doctor role, else 400
 * not_a_doctor. Locked until commit: a role change or deletion of the account racing the link
 * waits and then unlinks it, or ran first and the link sees the account as it left it
 * (unlinkFormerDoctor).
 */
async function assertLinkableDoctor(trx: TenantTransaction, accountId: string): Promise<void> {
  const account = await getAccount(trx, accountId, { forUpdate: true });
  if (!account.roles.includes('doctor') || account.disabled) throw badRequest('not_a_doctor', 'The account must be an enabled account with the doctor role.');
}

/** An admin adds a doctor (optionally linked to their account) with weekly rules; logged. */
export async function createPractitioner(deps: Pick<Services, 'db'>, actor: ClinicActor, input: CreatePractitionerInput): Promise<Practitioner> {
  return withTenant(deps.db, actor.tenantId, async (trx) => {
    if (input.accountId) await assertLinkableDoctor(trx, input.accountId);
    const id = await insertPractitioner(trx, input);
    if (input.rules.length) await replaceAvailability(trx, id, { rules: input.rules, exceptions: [] });
    await recordAudit(trx, actor.audit, { action: 'practitioner.create', outcome: 'success', targetType: 'practitioner', targetId: id });
    return getPractitioner(trx, id);
  });
}

/** An admin replaces a doctor's weekly rules and dated exceptions; logged. */
export async function setAvailability(deps: Pick<Services, 'db'>, actor: ClinicActor, id: string, availability: Availability): Promise<Practitioner> {
  return withTenant(deps.db, actor.tenantId, async (trx) => {
    await getPractitioner(trx, id);
    await replaceAvailability(trx, id, availability);
    await recordAudit(trx, actor.audit, { action: 'practitioner.availability', outcome: 'success', targetType: 'practitioner', targetId: id });
    return getPractitioner(trx, id);
  });
}

/**
 * An admin links a doctor's schedule to another account (or none): the linked account is the
 * one that starts and finishes the practitioner's consultations and joins them as the
 * practitioner. The account must hold the doctor role; logged with before and after.
 */
export async function assignPractitionerAccount(deps: Pick<Services, 'db'>, actor: ClinicActor, id: string, accountId: string | null): Promise<Practitioner> {
  return withTenant(deps.db, actor.tenantId, async (trx) => {
    const before = await getPractitioner(trx, id);
    if (accountId) await assertLinkableDoctor(trx, accountId);
    await linkAccount(trx, id, accountId);
    await recordAudit(trx, actor.audit, { action: 'practitioner.assign', outcome: 'success', targetType: 'practitioner', targetId: id, details: { from: before.accountId, to: accountId } });
    return getPractitioner(trx, id);
  });
}
