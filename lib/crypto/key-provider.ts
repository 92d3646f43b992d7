/**
 * Where clinics' master keys live. Data keys (AES-256) are generated under a clinic's master key
 * and stored only wrapped; the master key never leaves the provider. Each clinic has master keys
 * of its own, so destroying them (crypto-shredding at contract end) makes that clinic's
 * ciphertext unreadable everywhere, backups included, without touching any other clinic.
 */
export interface WrappedDataKey {
  plaintext: Buffer;
  wrapped: Buffer;
}

export interface KeyProvider {
  readonly kind: 'kms' | 'local';
  /** Creates a new master key (version) for the clinic and returns its id. */
  createMasterKey(tenantId: string): Promise<string>;
  generateDataKey(tenantId: string, masterKeyId: string, purpose: string): Promise<WrappedDataKey>;
  unwrapDataKey(tenantId: string, masterKeyId: string, purpose: string, wrapped: Buffer): Promise<Buffer>;
  /** Re-wraps a data key under another master key without exposing it where avoidable. */
  rewrapDataKey(tenantId: string, from: string, to: string, purpose: string, wrapped: Buffer): Promise<Buffer>;
  /** Makes a master key unusable for good (KMS: scheduled deletion; local: the file is erased). */
  destroyMasterKey(tenantId: string, masterKeyId: string): Promise<void>;
  /** Calls made to the key service since start (the bench reports calls per request). */
  calls(): number;
}

/** The encryption context: binds every wrapped key to its clinic and purpose. */
export const keyContext = (tenantId: string, purpose: string) => ({ tenantId, purpose });
