import { ApplicationFailure } from '@temporalio/common';
import type { Db } from '../db/connection';
import {
  activateMasterKey,
  dataKeysNotUnder,
  destroyableMasterKeys,
  markMasterKeyDestroyed,
  masterKeyState,
  moveDataKey,
  undestroyedMasterKeys,
} from '../db/keys';
import type { Vault } from '../lib/crypto/vault';
import { checkpoint } from './checkpoint';

/**
 * Key rotation and crypto-shredding, step by step. Each step is idempotent and keeps its progress
 * in PostgreSQL, so a workflow that crashed half-way simply runs the remaining steps again.
 * No step calls the key provider while it holds a database transaction or lock: it reads in a
 * short transaction, calls the provider (whose calls are safe to repeat), then records the
 * result in another short transaction that re-checks what it read.
 */
export function createKeyManagementActivities(deps: { db: Db; vault: Vault }) {
  const provider = deps.vault.provider;
  const activeOrFail = async (tenantId: string) => {
    const state = await masterKeyState(deps.db, tenantId);
    if (!state.active) throw ApplicationFailure.nonRetryable('the clinic has no master key', 'NoMasterKey');
    return { active: state.active, nextVersion: state.nextVersion };
  };

  return {
    async activeMasterKey(tenantId: string): Promise<string | null> {
      return (await masterKeyState(deps.db, tenantId)).active?.id ?? null;
    },

    /**
     * Makes a new master key version active, unless that already happened for this rotation.
     * The version number comes from the database, so a retry (even one after the provider made
     * the key but before it was recorded) asks the provider for the same version and gets the
     * same key back instead of a second one.
     */
    async rotateMasterKey(args: { tenantId: string; previous: string }): Promise<string> {
      const { active, nextVersion } = await activeOrFail(args.tenantId);
      if (active.id !== args.previous) return active.id; // a retry after success
      const next = await provider.createMasterKey(args.tenantId, nextVersion);
      return activateMasterKey(deps.db, args.tenantId, { id: next, version: nextVersion }, args.previous);
    },

    /** Re-wraps every data key not yet under the active master key. Returns how many it moved. */
    async rewrapDataKeys(tenantId: string): Promise<number> {
      const { active } = await activeOrFail(tenantId);
      const { resumed, beat } = checkpoint<number>();
      let moved = resumed ?? 0;
      for (const key of await dataKeysNotUnder(deps.db, tenantId, active.id)) {
        beat(moved);
        const wrapped = await provider.rewrapDataKey(tenantId, key.masterKeyId, active.id, key.purpose, key.wrapped);
        if (await moveDataKey(deps.db, tenantId, { id: key.id, from: key.masterKeyId, to: active.id, wrapped })) moved += 1;
      }
      return moved;
    },

    /** Destroys retired master keys that no data key depends on any more. */
    async destroyRetiredMasterKeys(tenantId: string): Promise<number> {
      return destroyEach(tenantId, await destroyableMasterKeys(deps.db, tenantId));
    },

    /** Crypto-shredding (contract end): every master key of the clinic is destroyed. */
    async shredTenantKeys(tenantId: string): Promise<number> {
      const destroyed = await destroyEach(tenantId, await undestroyedMasterKeys(deps.db, tenantId));
      deps.vault.forget(tenantId);
      return destroyed;
    },
  };

  /** Provider first, then the record: a crash in between leaves a key that the retry destroys again (a no-op) and records. */
  async function destroyEach(tenantId: string, keyIds: string[]): Promise<number> {
    const { resumed, beat } = checkpoint<number>();
    let destroyed = resumed ?? 0;
    for (const id of keyIds) {
      beat(destroyed);
      await provider.destroyMasterKey(tenantId, id);
      await markMasterKeyDestroyed(deps.db, tenantId, id);
      destroyed += 1;
    }
    return destroyed;
  }
}
