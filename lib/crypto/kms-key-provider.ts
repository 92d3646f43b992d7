import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ReEncryptCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { keyContext, keyError, masterKeyAlias, type KeyProvider } from './key-provider';

interface KeyMetadata {
  Arn?: string;
  KeyState?: string;
}

/** A version whose key was destroyed is never handed out again as a fresh key. */
function usableArn(key: KeyMetadata, alias: string): string {
  if (key.KeyState !== 'Enabled' || !key.Arn) throw keyError('KMSInvalidStateException', `${alias} names a key in state ${key.KeyState}`);
  return key.Arn;
}

/**
 * AWS KMS (or local-kms in tests): one customer managed key per clinic and version, so a
 * clinic's keys can be scheduled for deletion on their own. The encryption context carries the
 * clinic id, so a wrapped key copied to another clinic does not decrypt.
 *
 * A version is named by the alias `alias/forclinic/<clinic>/v<n>` and tagged with the clinic and
 * version. The alias decides which key is version n: creation looks it up first, and of two
 * creators racing (or a retry racing its own lost first attempt) the one whose CreateAlias
 * fails schedules its own key for deletion and takes the winner's. (An attempt that dies
 * between CreateKey and CreateAlias leaves an unnamed key, tagged with clinic and version,
 * that nothing uses.)
 */
export function kmsKeyProvider(opts: { region: string; endpoint?: string }): KeyProvider {
  const client = new KMSClient({
    region: opts.region,
    endpoint: opts.endpoint,
    ...(opts.endpoint && !process.env.AWS_ACCESS_KEY_ID ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
  let calls = 0;
  const send = <T>(command: object) => {
    calls += 1;
    return client.send(command as never) as Promise<T>;
  };
  /** The key's metadata, or undefined when KMS has no such key or alias. */
  const describe = async (keyId: string) => {
    try {
      return (await send<{ KeyMetadata?: KeyMetadata }>(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata;
    } catch (err) {
      if ((err as Error).name === 'NotFoundException') return undefined;
      throw err;
    }
  };
  return {
    kind: 'kms',
    async createMasterKey(tenantId, version) {
      const alias = masterKeyAlias(tenantId, version);
      const existing = await describe(alias);
      if (existing) return usableArn(existing, alias);
      const out = await send<{ KeyMetadata?: KeyMetadata }>(
        new CreateKeyCommand({
          Description: `FOR CLINIC data keys of clinic ${tenantId}, version ${version}`,
          KeyUsage: 'ENCRYPT_DECRYPT',
          KeySpec: 'SYMMETRIC_DEFAULT',
          Tags: [
            { TagKey: 'TenantId', TagValue: tenantId },
            { TagKey: 'KeyVersion', TagValue: String(version) },
          ],
        }),
      );
      const keyId = out.KeyMetadata?.Arn;
      if (!keyId) throw new Error('KMS returned no key id');
      try {
        await send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }));
        return keyId;
      } catch (err) {
        if ((err as Error).name !== 'AlreadyExistsException') throw err;
        await send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
        const winner = await describe(alias);
        if (!winner) throw new Error(`KMS alias ${alias} exists but names no key`);
        return usableArn(winner, alias);
      }
    },
    async generateDataKey(tenantId, masterKeyId, purpose) {
      const out = await send<{ Plaintext?: Uint8Array; CiphertextBlob?: Uint8Array }>(
        new GenerateDataKeyCommand({ KeyId: masterKeyId, KeySpec: 'AES_256', EncryptionContext: keyContext(tenantId, purpose) }),
      );
      if (!out.Plaintext || !out.CiphertextBlob) throw new Error('KMS returned no data key');
      return { plaintext: Buffer.from(out.Plaintext), wrapped: Buffer.from(out.CiphertextBlob) };
    },
    async unwrapDataKey(tenantId, masterKeyId, purpose, wrapped) {
      const out = await send<{ Plaintext?: Uint8Array }>(
        new DecryptCommand({ CiphertextBlob: wrapped, KeyId: masterKeyId, EncryptionContext: keyContext(tenantId, purpose) }),
      );
      if (!out.Plaintext) throw new Error('KMS returned no plaintext');
      return Buffer.from(out.Plaintext);
    },
    async rewrapDataKey(tenantId, from, to, purpose, wrapped) {
      const context = keyContext(tenantId, purpose);
      const out = await send<{ CiphertextBlob?: Uint8Array }>(
        new ReEncryptCommand({
          CiphertextBlob: wrapped,
          SourceKeyId: from,
          DestinationKeyId: to,
          SourceEncryptionContext: context,
          DestinationEncryptionContext: context,
        }),
      );
      if (!out.CiphertextBlob) throw new Error('KMS returned no ciphertext');
      return Buffer.from(out.CiphertextBlob);
    },
    async destroyMasterKey(_tenantId, masterKeyId) {
      // The shortest window KMS allows; the key is unusable (pending deletion) from now on.
      try {
        await send(new ScheduleKeyDeletionCommand({ KeyId: masterKeyId, PendingWindowInDays: 7 }));
      } catch (err) {
        if ((err as Error).name === 'NotFoundException') return; // already deleted for good
        if ((err as Error).name === 'KMSInvalidStateException' && (await describe(masterKeyId))?.KeyState === 'PendingDeletion') return;
        throw err;
      }
    },
    calls: () => calls,
  };
}
