import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ReEncryptCommand,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { keyContext, type KeyProvider } from './key-provider';

/**
 * AWS KMS (or local-kms in tests): one customer managed key per clinic and version, so a
 * clinic's keys can be scheduled for deletion on their own. The encryption context carries the
 * clinic id, so a wrapped key copied to another clinic does not decrypt.
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
  return {
    kind: 'kms',
    async createMasterKey(tenantId) {
      const out = await send<{ KeyMetadata?: { Arn?: string; KeyId?: string } }>(
        new CreateKeyCommand({
          Description: `FOR CLINIC data keys of clinic ${tenantId}`,
          KeyUsage: 'ENCRYPT_DECRYPT',
          KeySpec: 'SYMMETRIC_DEFAULT',
          Tags: [{ TagKey: 'TenantId', TagValue: tenantId }],
        }),
      );
      const keyId = out.KeyMetadata?.Arn ?? out.KeyMetadata?.KeyId;
      if (!keyId) throw new Error('KMS returned no key id');
      await send(new CreateAliasCommand({ AliasName: `alias/forclinic/${tenantId}/${Date.now()}`, TargetKeyId: keyId }));
      return keyId;
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
      await send(new ScheduleKeyDeletionCommand({ KeyId: masterKeyId, PendingWindowInDays: 7 }));
    },
    calls: () => calls,
  };
}
