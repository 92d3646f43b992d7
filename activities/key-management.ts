import { ApplicationFailure } from '@temporalio/common';
import type { Db } from '../db/connection';
import { withTenant } from '../db/tenant-scope';
import type { Vault } from '../lib/crypto/vault';

/**
 * Key rotation and crypto-shredding, step by step. Each step is idempotent and keeps its progress
 * in PostgreSQL, so a workflow that crashed half-way simply runs the remaining steps again.
 */
export function createKeyManagementActivities(deps: { db: Db; vault: Vault }) {
  const provider = deps.vault.provider;
  const inTenant = <T>(tenantId: string, fn: Parameters<typeof withTenant<T>>[2]) => withTenant(deps.db, tenantId, fn);

  return {
    async activeMasterKey(tenantId: string): Promise<string | null> {
      return inTenant(tenantId, async (trx) => (await trx('tenant_master_keys').where({ tenant_id: tenantId, status: 'active' }).first())?.id ?? null);
    },

    /** Makes a new master key version active, unless that already happened for this rotation. */
    async rotateMasterKey(args: { tenantId: string; previous: string }): Promise<string> {
      return inTenant(args.tenantId, async (trx) => {
        await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`data-key:${args.tenantId}`]);
        const active = await trx('tenant_master_keys').where({ tenant_id: args.tenantId, status: 'active' }).first();
        if (!active) throw ApplicationFailure.nonRetryable('the clinic has no master key yet', 'NoMasterKey');
        if (active.id !== args.previous) return active.id as string; // a retry after success
        const next = await provider.createMasterKey(args.tenantId);
        await trx('tenant_master_keys').where({ id: active.id }).update({ status: 'retired', retired_at: trx.fn.now() });
        await trx('tenant_master_keys').insert({ id: next, tenant_id: args.tenantId, status: 'active' });
        return next;
      });
    },

    /** Re-wraps every data key not yet under the active master key. Returns how many it moved. */
    async rewrapDataKeys(tenantId: string): Promise<number> {
      return inTenant(tenantId, async (trx) => {
        const active = await trx('tenant_master_keys').where({ tenant_id: tenantId, status: 'active' }).first();
        const stale = await trx('data_keys').where({ tenant_id: tenantId }).whereNot({ master_key_id: active.id }).forUpdate();
        for (const key of stale) {
          const wrapped = await provider.rewrapDataKey(tenantId, key.masterKeyId, active.id, key.purpose, key.wrapped);
          await trx('data_keys').where({ id: key.id }).update({ wrapped, master_key_id: active.id, rewrapped_at: trx.fn.now() });
        }
        return stale.length;
      });
    },

    /** Destroys retired master keys that no data key depends on any more. */
    async destroyRetiredMasterKeys(tenantId: string): Promise<number> {
      return inTenant(tenantId, async (trx) => {
        const retired = await trx('tenant_master_keys')
          .where({ tenant_id: tenantId, status: 'retired' })
          .whereNotExists(trx('data_keys').whereRaw('data_keys.master_key_id = tenant_master_keys.id'));
        for (const key of retired) {
          await provider.destroyMasterKey(tenantId, key.id);
          await trx('tenant_master_keys').where({ id: key.id }).update({ status: 'destroyed' });
        }
        return retired.length;
      });
    },

    /** Crypto-shredding (contract end): every master key of the clinic is destroyed. */
    async shredTenantKeys(tenantId: string): Promise<number> {
      const destroyed = await inTenant(tenantId, async (trx) => {
        const keys = await trx('tenant_master_keys').where({ tenant_id: tenantId }).whereNot({ status: 'destroyed' });
        for (const key of keys) {
          await provider.destroyMasterKey(tenantId, key.id);
          await trx('tenant_master_keys').where({ id: key.id }).update({ status: 'destroyed' });
        }
        return keys.length;
      });
      deps.vault.forget(tenantId);
      return destroyed;
    },
  };
}
