import type { Db } from './connection';
import { withTenant, type TenantTransaction } from './tenant-scope';
import { contractSettled, type ContractState } from '../domain/contract';

/**
 * Bookkeeping of clinics' master keys (`tenant_master_keys`: ids and versions only) and wrapped
 * data keys (`data_keys`). Every function here is one short transaction that never waits for the
 * key provider: callers talk to KMS before or after, never while a connection or lock is held.
 * Writers take the clinic's key lock, so "is the master key still active?" and "is there a data
 * key yet?" are decided once, and a retry finds the row an earlier attempt wrote.
 */
export interface MasterKeyRow {
  id: string;
  version: number;
  status: 'active' | 'retired' | 'destroyed';
}

export interface DataKeyRow {
  id: string;
  purpose: string;
  masterKeyId: string;
  wrapped: Buffer;
}

const lockTenantKeys = (trx: TenantTransaction, tenantId: string) =>
  trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`data-key:${tenantId}`]);

const activeOf = (trx: TenantTransaction, tenantId: string): Promise<MasterKeyRow | undefined> =>
  trx('tenant_master_keys').where({ tenant_id: tenantId, status: 'active' }).first('id', 'version', 'status');

/** The active master key and the version number a new one would get (versions are never reused). */
export async function masterKeyState(db: Db, tenantId: string): Promise<{ active: MasterKeyRow | undefined; nextVersion: number; deleted: boolean }> {
  return withTenant(db, tenantId, async (trx) => {
    const active = await activeOf(trx, tenantId);
    const newest = (await trx('tenant_master_keys').where({ tenant_id: tenantId }).max('version as max').first()) as { max: number | null } | undefined;
    // A clinic whose data is being or has been deleted (or that no longer exists) gets no new key.
    const tenant = (await trx('tenants').where({ id: tenantId }).first('contract_state')) as { contractState: ContractState } | undefined;
    return { active, nextVersion: (newest?.max ?? 0) + 1, deleted: !tenant || contractSettled(tenant.contractState) };
  });
}

/**
 * Records master key `key` as the clinic's active one if the active key is still `replacing`
 * (undefined: the clinic has none yet); the replaced key becomes retired. Returns the active key
 * afterwards: `key` itself, or whichever key another attempt or creator made active first.
 */
export async function activateMasterKey(db: Db, tenantId: string, key: { id: string; version: number }, replacing: string | undefined): Promise<string> {
  return withTenant(db, tenantId, async (trx) => {
    await lockTenantKeys(trx, tenantId);
    const active = await activeOf(trx, tenantId);
    if (active?.id !== replacing) {
      if (!active) throw new Error(`clinic ${tenantId} has no active master key any more (shredded?)`);
      return active.id;
    }
    if (active) await trx('tenant_master_keys').where({ id: active.id }).update({ status: 'retired', retired_at: trx.fn.now() });
    await trx('tenant_master_keys').insert({ id: key.id, tenant_id: tenantId, version: key.version, status: 'active' });
    return key.id;
  });
}

export async function findDataKey(db: Db, tenantId: string, purpose: string): Promise<DataKeyRow | undefined> {
  return withTenant(db, tenantId, (trx) => trx('data_keys').where({ tenant_id: tenantId, purpose }).first('id', 'purpose', 'master_key_id', 'wrapped'));
}

/**
 * Stores a freshly generated data key unless the clinic already has one for the purpose.
 * Returns 'stored', the existing row (another creator won: use theirs), or 'master-key-changed'
 * when `masterKeyId` is no longer active (a rotation retired it meanwhile: wrap under the new one).
 */
export async function insertDataKeyIfAbsent(
  db: Db,
  tenantId: string,
  key: { purpose: string; masterKeyId: string; wrapped: Buffer },
): Promise<'stored' | 'master-key-changed' | DataKeyRow> {
  return withTenant(db, tenantId, async (trx) => {
    await lockTenantKeys(trx, tenantId);
    const existing = await trx('data_keys').where({ tenant_id: tenantId, purpose: key.purpose }).first('id', 'purpose', 'master_key_id', 'wrapped');
    if (existing) return existing as DataKeyRow;
    if ((await activeOf(trx, tenantId))?.id !== key.masterKeyId) return 'master-key-changed';
    await trx('data_keys').insert({ tenant_id: tenantId, purpose: key.purpose, master_key_id: key.masterKeyId, wrapped: key.wrapped });
    return 'stored';
  });
}

/** Data keys still wrapped under another master key than `activeId`. */
export async function dataKeysNotUnder(db: Db, tenantId: string, activeId: string): Promise<DataKeyRow[]> {
  return withTenant(db, tenantId, (trx) =>
    trx('data_keys').where({ tenant_id: tenantId }).whereNot({ master_key_id: activeId }).orderBy('id').select('id', 'purpose', 'master_key_id', 'wrapped'),
  );
}

/**
 * Replaces a data key's wrapping if it is still wrapped under `from` and `to` is still the
 * active master key (compare-and-set). False when someone else moved it or a newer rotation began.
 */
export async function moveDataKey(db: Db, tenantId: string, move: { id: string; from: string; to: string; wrapped: Buffer }): Promise<boolean> {
  return withTenant(db, tenantId, async (trx) => {
    await lockTenantKeys(trx, tenantId);
    if ((await activeOf(trx, tenantId))?.id !== move.to) return false;
    const updated = await trx('data_keys')
      .where({ id: move.id, master_key_id: move.from })
      .update({ wrapped: move.wrapped, master_key_id: move.to, rewrapped_at: trx.fn.now() });
    return updated === 1;
  });
}

/**
 * Retired master keys that no data key depends on. No data key can come to depend on one later:
 * data keys are stored and moved only under the active master key, checked under the key lock.
 */
export async function destroyableMasterKeys(db: Db, tenantId: string): Promise<string[]> {
  return withTenant(db, tenantId, async (trx) =>
    (
      await trx('tenant_master_keys')
        .where({ tenant_id: tenantId, status: 'retired' })
        .whereNotExists(trx('data_keys').whereRaw('data_keys.master_key_id = tenant_master_keys.id'))
        .orderBy('version')
        .select('id')
    ).map((r: { id: string }) => r.id),
  );
}

/** Every master key of the clinic not yet destroyed (crypto-shredding destroys them all). */
export async function undestroyedMasterKeys(db: Db, tenantId: string): Promise<string[]> {
  return withTenant(db, tenantId, async (trx) =>
    (await trx('tenant_master_keys').where({ tenant_id: tenantId }).whereNot({ status: 'destroyed' }).orderBy('version').select('id')).map(
      (r: { id: string }) => r.id,
    ),
  );
}

/** Records that the provider destroyed the key (called after it did; idempotent). */
export async function markMasterKeyDestroyed(db: Db, tenantId: string, id: string): Promise<void> {
  await withTenant(db, tenantId, (trx) => trx('tenant_master_keys').where({ id }).update({ status: 'destroyed' }));
}
