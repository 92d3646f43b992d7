import type { Knex } from 'knex';
import type { CreateTenantInput, Tenant, TenantStatus, UpdateTenantInput } from '../domain/tenant';
import { canChangeStatus } from '../domain/tenant';
import { contractEndTooEarly, contractSettled, stateForEnd } from '../domain/contract';
import { CURSOR_TS_SQL, encodeCursor, type Keyset } from '../domain/pagination';
import { badRequest, conflict, notFound } from '../domain/problems';
import type { Db } from './connection';
import { TenantRow } from './models/tenant';
import { isUuid } from '../domain/ids';
import { isUniqueViolation } from './errors';
import { lockClinicState } from './tenant-scope';

/** Data access for the tenant registry, used by the operator API and by provisioning activities. */

export async function insertTenant(db: Db, input: CreateTenantInput): Promise<Tenant> {
  try {
    const row = await TenantRow.query(db).insertAndFetch({ ...input, status: 'provisioning' });
    return row.toApi();
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw conflict('slug_taken', `A clinic with slug "${input.slug}" already exists.`);
    }
    throw err;
  }
}

export async function findTenant(db: Db, id: string): Promise<Tenant | undefined> {
  if (!isUuid(id)) return undefined;
  return (await TenantRow.query(db).findById(id))?.toApi();
}

export async function getTenant(db: Db, id: string): Promise<Tenant> {
  const tenant = await findTenant(db, id);
  if (!tenant) throw notFound('No such clinic.');
  return tenant;
}

export interface TenantPage {
  items: Tenant[];
  nextCursor: string | null;
}

/** Keyset pagination on (created_at, id): stable while clinics are being added. */
export async function listTenants(
  db: Db,
  opts: { limit: number; after?: Keyset; status?: TenantStatus },
): Promise<TenantPage> {
  // The cursor keeps created_at at full microsecond precision (a JS Date would cut it to ms).
  const q = TenantRow.query(db)
    .select('tenants.*', db.raw(CURSOR_TS_SQL))
    .orderBy([{ column: 'createdAt' }, { column: 'id' }])
    .limit(opts.limit + 1);
  if (opts.status) q.where('status', opts.status);
  if (opts.after) q.whereRaw('(created_at, id) > (?::timestamptz, ?::uuid)', [opts.after.createdAt, opts.after.id]);
  const rows = (await q) as Array<TenantRow & { cursorTs: string }>;
  const page = rows.slice(0, opts.limit);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => r.toApi()),
    nextCursor: rows.length > opts.limit && last ? encodeCursor({ createdAt: last.cursorTs, id: last.id }) : null,
  };
}


/**
 * Inside the caller's transaction: the clinic's row stays locked until it commits. A new contract
 * end also sets the contract state it implies at once (a clinic whose end moved later is writable
 * again from the next request), measured on the database's clock; `contractChanged` says whether
 * the contract-end workflow must hear of it.
 */
export async function updateTenant(
  trx: Knex.Transaction,
  id: string,
  patch: UpdateTenantInput,
  opts: { graceSec?: number } = {},
): Promise<{ tenant: Tenant; before: Pick<Tenant, 'status' | 'contractEndsAt'>; contractChanged: boolean }> {
  if (!isUuid(id)) throw notFound('No such clinic.');
  // Clinic writes in progress finish first, later ones wait and see the new status or end.
  await lockClinicState(trx, id);
  // NO KEY UPDATE: clinic writes' foreign keys to this row (KEY SHARE) do not wait for it, so a log
  // entry holding its chain head never waits here while this change waits for that head.
  const current = await TenantRow.query(trx).findById(id).forNoKeyUpdate();
  if (!current) throw notFound('No such clinic.');
  if (patch.status && !canChangeStatus(current.status, patch.status)) {
    throw conflict('invalid_transition', `A clinic in status "${current.status}" cannot become "${patch.status}".`);
  }
  if (contractSettled(current.contractState)) {
    // The tombstone of a purged clinic, or one whose deletion is running, changes no more.
    throw conflict('purge_started', 'This clinic\'s data is being or has been deleted; it can no longer be changed.');
  }
  const { contractEndsAt, ...rest } = patch;
  const contract: Partial<TenantRow> = {};
  let contractChanged = false;
  if (contractEndsAt !== undefined && (contractEndsAt?.getTime() ?? null) !== (current.contractEndsAt?.getTime() ?? null)) {
    const { rows } = await trx.raw('select now() as now');
    const now = (rows[0].now as Date).getTime();
    if (contractEndsAt && contractEndTooEarly(contractEndsAt.getTime(), now, opts.graceSec)) {
      throw badRequest('contract_end_in_past', 'A contract end cannot be in the past: the clinic is owed its notices and its grace period to export. Give now or a later instant.');
    }
    contract.contractEndsAt = contractEndsAt;
    contract.contractState = stateForEnd(contractEndsAt?.getTime() ?? null, now);
    // The row is locked (FOR NO KEY UPDATE above): no other change counts in between.
    contract.contractPlan = current.contractPlan + 1;
    contract.contractPlanAt = new Date(now);
    contractChanged = true;
  }
  const row = await TenantRow.query(trx).patchAndFetchById(id, { ...rest, ...contract, updatedAt: trx.fn.now() as never });
  const { status, contractEndsAt: endBefore } = current.toApi();
  return { tenant: row.toApi(), before: { status, contractEndsAt: endBefore }, contractChanged };
}

/** Finishes provisioning. Idempotent: activating an active clinic changes nothing. */
export async function activateTenant(db: Db, id: string): Promise<'activated' | 'already' | 'missing'> {
  const updated = await TenantRow.query(db)
    .patch({ status: 'active', updatedAt: db.fn.now() as never })
    .where({ id, status: 'provisioning' });
  if (updated > 0) return 'activated';
  return (await TenantRow.query(db).findById(id)) ? 'already' : 'missing';
}

/** Login names its clinic by slug. */
export async function findTenantBySlug(db: Db, slug: string): Promise<Tenant | undefined> {
  return (await TenantRow.query(db).findOne({ slug }))?.toApi();
}
