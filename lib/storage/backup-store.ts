import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { DeleteObjectsCommand, GetObjectLockConfigurationCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { RestoreConfig } from '../config';
import { fsObjectStore, s3Client, s3ObjectStore, SAFE_KEY, type ObjectStore, type S3Options } from './object-store';

/**
 * Where backup generations live: a folder under the data folder (default) or an S3 bucket,
 * apart from the files' store (its own bucket or folder, so a lifecycle or access rule on one
 * never touches the other). Objects are written whole or not at all (fs: rename; S3: the
 * multipart upload completes or the object does not exist), so a generation killed half-way
 * leaves missing objects, never a short one under its final name.
 */
export interface BackupStore extends ObjectStore {
  /** Keys under a prefix (`generations/<id>/`). */
  list(prefix: string): Promise<string[]>;
  /** Removes everything under a prefix; idempotent. */
  deletePrefix(prefix: string): Promise<void>;
  /** Whether the bucket has S3 Object Lock enabled (a folder never has). */
  objectLockEnabled(): Promise<boolean>;
  readonly location: string;
}

const checkPrefix = (prefix: string) => {
  if (!prefix.endsWith('/') || !SAFE_KEY.test(prefix) || prefix.includes('..') || prefix.startsWith('/')) throw new Error(`unsafe prefix: ${prefix}`);
  return prefix;
};

export function fsBackupStore(root: string): BackupStore {
  const files = fsObjectStore(root);
  return {
    ...files,
    location: backupStoreLocation({ BACKUP_STORAGE: 'fs', BACKUP_DIR: root }),
    async list(prefix) {
      const dir = path.join(root, checkPrefix(prefix));
      const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return [];
        throw err;
      });
      return entries
        .filter((e) => e.isFile() && !e.name.endsWith('.partial'))
        .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
        .sort();
    },
    async deletePrefix(prefix) {
      await rm(path.join(root, checkPrefix(prefix)), { recursive: true, force: true });
    },
    objectLockEnabled: async () => false,
  };
}

export function s3BackupStore(opts: S3Options): BackupStore {
  const client = s3Client(opts);
  const list = async (prefix: string) => {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: opts.bucket, Prefix: checkPrefix(prefix), ContinuationToken: token }));
      for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  };
  return {
    ...s3ObjectStore(opts, client),
    location: backupStoreLocation({ BACKUP_STORAGE: 's3', BACKUP_DIR: '', BACKUP_S3_BUCKET: opts.bucket }),
    list,
    async objectLockEnabled() {
      try {
        const { ObjectLockConfiguration } = await client.send(new GetObjectLockConfigurationCommand({ Bucket: opts.bucket }));
        return ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
      } catch (err) {
        // A bucket without a lock configuration answers 404; a store that has no Object Lock at all, 501.
        const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (e.name === 'ObjectLockConfigurationNotFoundError' || e.$metadata?.httpStatusCode === 404 || e.$metadata?.httpStatusCode === 501) return false;
        throw err;
      }
    },
    /**
     * In a versioned bucket (Object Lock requires versioning) a delete adds a delete marker: it
     * succeeds even while the versions under it are locked, which stay until their retention ends
     * and a lifecycle rule expires noncurrent versions (README: Backups).
     */
    async deletePrefix(prefix) {
      const keys = await list(prefix);
      for (let i = 0; i < keys.length; i += 1000) {
        await client.send(new DeleteObjectsCommand({ Bucket: opts.bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })) } }));
      }
    },
  };
}

export function createBackupStore(
  config: Pick<RestoreConfig, 'BACKUP_STORAGE' | 'BACKUP_DIR' | 'BACKUP_S3_BUCKET' | 'BACKUP_S3_REGION' | 'BACKUP_S3_ENDPOINT' | 'BACKUP_S3_FORCE_PATH_STYLE' | 'AWS_REGION'>,
): BackupStore {
  return config.BACKUP_STORAGE === 's3'
    ? s3BackupStore({ bucket: config.BACKUP_S3_BUCKET!, region: config.BACKUP_S3_REGION ?? config.AWS_REGION, endpoint: config.BACKUP_S3_ENDPOINT, forcePathStyle: config.BACKUP_S3_FORCE_PATH_STYLE })
    : fsBackupStore(path.resolve(config.BACKUP_DIR));
}

/** Where generations go, as recorded with each one (`s3://bucket` or the folder). */
export function backupStoreLocation(config: Pick<RestoreConfig, 'BACKUP_STORAGE' | 'BACKUP_DIR' | 'BACKUP_S3_BUCKET'>): string {
  return config.BACKUP_STORAGE === 's3' ? `s3://${config.BACKUP_S3_BUCKET}` : path.resolve(config.BACKUP_DIR);
}
