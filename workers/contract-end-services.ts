import { randomBytes } from 'node:crypto';
import type { ContractEndServices } from '../activities/contract-end';
import { createDb, type Db } from '../db/connection';
import type { Config } from '../lib/config';
import { createObjectStore } from '../lib/storage';

/**
 * Contract end's dependencies from the worker's configuration. The purge's pool is opened on
 * first use (most workers never purge) and only here: the API never holds PURGE_DATABASE_URL.
 */
export function contractEndServices(config: Config): ContractEndServices & { close(): Promise<void> } {
  let purgeDb: Db | undefined;
  return {
    leadTimesSec: config.CONTRACT_NOTICE_LEAD_SECONDS,
    graceSec: config.CONTRACT_GRACE_SECONDS,
    holdReleaseNoticeSec: config.CONTRACT_HOLD_RELEASE_NOTICE_SECONDS,
    purgeDb: () => {
      if (!config.PURGE_DATABASE_URL) return undefined;
      return (purgeDb ??= createDb({ url: config.PURGE_DATABASE_URL, poolMax: 2, applicationName: 'for-clinic-purge', as: 'purge' }));
    },
    batchRows: config.PURGE_BATCH_ROWS,
    storage: createObjectStore(config),
    // Outside production only (config refuses production without it): certificates signed with
    // a per-process key cannot be verified after a restart.
    certificateKey: config.DELETION_CERTIFICATE_KEY ?? randomBytes(32).toString('hex'),
    keyProvider: config.KEY_PROVIDER,
    close: async () => {
      await purgeDb?.destroy();
    },
  };
}
