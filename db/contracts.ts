import type { Knex } from 'knex';
import { contractSettled, type ContractState } from '../domain/contract';
import { isUuid } from '../domain/ids';
import { conflict, notFound } from '../domain/problems';
import type { Db } from './connection';
import { TenantRow } from './models/tenant';
import { lockClinicState } from './tenant-scope';

/**
 * The contract side of the tenant registry (README: Contract end): what the contract-end
 * workflow reads, the state changes it makes (each a single statement that re-checks the stored
 * end, so a change the operator made meanwhile wins), legal holds and the deletion certificates.
 */
export interface Contract {
  slug: string;
  endsAtMs: number | null;
  state: ContractState;
  legalHold: boolean;
  /** When the last legal hold was lifted (the purge then waits a notice period from it). */
  holdLiftedAtMs: number | null;
  /** How many times the end was set, moved or removed (its mails are keyed by it). */
  plan: number;
  /** When it last was (database time). */
  planAtMs: number | null;
}

export async function loadContract(db: Db, tenantId: string): Promise<Contract | undefined> {
  const row = await TenantRow.query(db).findById(tenantId);
  if (!row) return undefined;
  return {
    slug: row.slug,
    endsAtMs: row.contractEndsAt?.getTime() ?? null,
    state: row.contractState,
    legalHold: row.legalHoldReason !== null,
    holdLiftedAtMs: row.legalHoldLiftedAt?.getTime() ?? null,
    plan: row.contractPlan,
    planAtMs: row.contractPlanAt?.getTime() ?? null,
  };
}

/** The end has passed: read-only, if the stored end is still this one and has passed on the database's clock. */
export async function markReadOnly(db: Db, tenantId: string, endsAtMs: number): Promise<'read_only' | 'changed'> {
  // Under the clinic's state lock: the writes let in before commit first, so the bookings the end
  // step lists next include every one that committed.
  const n = await db.transaction(async (trx) => {
    await lockClinicState(trx, tenantId);
    return TenantRow.query(trx)
      .patch({ contractState: 'read_only' })
      .where({ id: tenantId, contractEndsAt: new Date(endsAtMs) })
      .whereIn('contractState', ['ending', 'read_only'])
      .where('contractEndsAt', '<=', trx.raw('now()'));
  });
  return n > 0 ? 'read_only' : 'changed';
}

/**
 * The grace period is over: purging begins, unless a legal hold stands, the end moved, or the
 * grace (and, when given, the notice after a lifted hold) is not over on the database's clock.
 * Once purging, nothing about the contract can change.
 */
export async function beginPurge(db: Db, tenantId: string, endsAtMs: number, graceSec: number, holdReleaseNoticeSec?: number): Promise<'purging' | 'held' | 'changed'> {
  return db.transaction(async (trx) => {
    await lockClinicState(trx, tenantId);
    const row = await TenantRow.query(trx).findById(tenantId).forNoKeyUpdate();
    if (!row) return 'changed';
    if (row.contractState === 'purging' || row.contractState === 'purged') return 'purging';
    if (row.contractEndsAt?.getTime() !== endsAtMs) return 'changed';
    if (row.legalHoldReason !== null) return 'held';
    const q = TenantRow.query(trx)
      .patch({ contractState: 'purging', updatedAt: trx.fn.now() as never })
      .where({ id: tenantId })
      .where('contractEndsAt', '<=', trx.raw('now() - make_interval(secs => ?)', [graceSec]));
    if (holdReleaseNoticeSec !== undefined) {
      void q.where((w) => w.whereNull('legalHoldLiftedAt').orWhere('legalHoldLiftedAt', '<=', trx.raw('now() - make_interval(secs => ?)', [holdReleaseNoticeSec])));
    }
    const n = await q;
    return n > 0 ? 'purging' : 'changed';
  });
}

/**
 * Sets (reason) or lifts (null) the clinic's legal hold, in the caller's transaction; refused once
 * purging began. A hold placed again while one stands keeps its start (`since`): the same reason
 * changes nothing, another replaces the reason, and the caller logs what it was.
 */
export async function setLegalHold(trx: Knex.Transaction, tenantId: string, reason: string | null): Promise<{ changed: boolean; previousReason: string | null; previousSince: Date | null }> {
  if (!isUuid(tenantId)) throw notFound('No such clinic.');
  const row = await TenantRow.query(trx).findById(tenantId).forNoKeyUpdate();
  if (!row) throw notFound('No such clinic.');
  if (contractSettled(row.contractState)) {
    throw conflict('purge_started', 'This clinic\'s data is being or has been deleted; a legal hold can no longer stop it.');
  }
  const previousReason = row.legalHoldReason;
  if (reason === previousReason) return { changed: false, previousReason, previousSince: row.legalHoldAt };
  const since = reason === null ? null : previousReason === null ? (trx.fn.now() as never) : row.legalHoldAt;
  // Lifting is dated: the purge waits a notice period from it (beginPurge), so the clinic is told the new date first.
  const lifted = reason === null && previousReason !== null ? { legalHoldLiftedAt: trx.fn.now() as never } : {};
  await TenantRow.query(trx)
    .patch({ legalHoldReason: reason, legalHoldAt: since, ...lifted, updatedAt: trx.fn.now() as never })
    .where({ id: tenantId });
  return { changed: true, previousReason, previousSince: row.legalHoldAt };
}

/** The contract addresses, read before they are erased (the certificate goes to them). */
export async function contractEmails(db: Db, tenantId: string): Promise<string[]> {
  return (await TenantRow.query(db).findById(tenantId))?.contractEmails ?? [];
}

/**
 * The tombstone: only id, slug and state remain of the clinic in the registry. Its status is
 * `suspended` (a purged clinic counted among the active ones would be a lie on every list).
 */
export async function finishPurge(db: Db, tenantId: string): Promise<void> {
  await TenantRow.query(db)
    .patch({ contractState: 'purged', status: 'suspended', name: '(deleted)', contractEmails: [], legalHoldReason: null, legalHoldAt: null, legalHoldLiftedAt: null, updatedAt: db.fn.now() as never })
    .where({ id: tenantId })
    .whereIn('contractState', ['purging', 'purged']);
}

// --- deletion certificates (platform rows: no tenant_id, so they outlive the purge) ---

export interface PurgeRecord {
  clinicId: string;
  clinicSlug: string;
  workflowId: string;
  runId: string;
  state: 'purging' | 'issued';
  startedAt: Date;
  counted: Record<string, number>;
  objects: { count: number; bytes: number };
  keyIds: string[];
  issuedAt: Date | null;
  certificate: Record<string, unknown> | null;
  sha256: string | null;
  signature: string | null;
  mailedAt: Date | null;
}

export async function findPurgeRecord(db: Db, clinicId: string): Promise<PurgeRecord | undefined> {
  if (!isUuid(clinicId)) return undefined;
  return (await db('deletion_certificates').where({ clinicId }).first()) as PurgeRecord | undefined;
}

/** The inventory taken before anything is deleted; the first one stands (a retried purge keeps it). */
export async function insertPurgeRecordIfAbsent(
  db: Db,
  record: Pick<PurgeRecord, 'clinicId' | 'clinicSlug' | 'workflowId' | 'runId' | 'counted' | 'keyIds'> & { objects: { count: number; bytes: number } },
): Promise<void> {
  await db('deletion_certificates')
    .insert({ ...record, state: 'purging', counted: JSON.stringify(record.counted), keyIds: JSON.stringify(record.keyIds), objects: JSON.stringify(record.objects) })
    .onConflict('clinicId')
    .ignore();
}

export async function recordIssued(db: Db, clinicId: string, issued: { certificate: unknown; sha256: string; signature: string; issuedAt: Date }): Promise<void> {
  await db('deletion_certificates')
    .where({ clinicId, state: 'purging' })
    .update({ state: 'issued', certificate: JSON.stringify(issued.certificate), sha256: issued.sha256, signature: issued.signature, issuedAt: issued.issuedAt });
}

export async function markCertificateMailed(db: Db, clinicId: string): Promise<void> {
  await db('deletion_certificates').where({ clinicId }).whereNull('mailedAt').update({ mailedAt: db.fn.now() });
}
