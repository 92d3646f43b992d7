import path from 'node:path';
import type { Config } from '../config';
import { fsObjectStore, s3ObjectStore, type ObjectStore } from './object-store';

export function createObjectStore(config: Pick<Config, 'STORAGE' | 'STORAGE_DIR' | 'S3_BUCKET' | 'S3_REGION' | 'S3_ENDPOINT' | 'S3_FORCE_PATH_STYLE' | 'AWS_REGION'>): ObjectStore {
  return config.STORAGE === 's3'
    ? s3ObjectStore({ bucket: config.S3_BUCKET!, region: config.S3_REGION ?? config.AWS_REGION, endpoint: config.S3_ENDPOINT, forcePathStyle: config.S3_FORCE_PATH_STYLE })
    : fsObjectStore(path.resolve(config.STORAGE_DIR));
}
