import path from 'node:path';
import type { Config } from '../config';
import type { KeyProvider } from './key-provider';
import { kmsKeyProvider } from './kms-key-provider';
import { localKeyProvider } from './local-key-provider';

export function createKeyProvider(config: Pick<Config, 'KEY_PROVIDER' | 'KEY_STORE_DIR' | 'KMS_ENDPOINT' | 'AWS_REGION'>): KeyProvider {
  return config.KEY_PROVIDER === 'kms'
    ? kmsKeyProvider({ region: config.AWS_REGION, endpoint: config.KMS_ENDPOINT })
    : localKeyProvider({ dir: path.resolve(config.KEY_STORE_DIR) });
}
