/**
 * Where clinics' master keys live. Data keys (AES-256) are generated under a clinic's master key
 * and stored only wrapped; the master key never leaves the provider. Each clinic has master keys
 * of its own, so destroying them (crypto-shredding at contract end) makes that clinic's
 * ciphertext unreadable everywhere, backups included, without touching any other clinic.
 *
 * Every call is safe to repeat: callers (activities, the vault) retry after crashes, and they
 * call the provider outside any database transaction, so a retry is how they recover.
 */
export interface WrappedDataKey {
  plaintext: Buffer;
  wrapped: Buffer;
}

export interface KeyProvider {
  readonly kind: 'kms' | 'local';
  /**
   * Create-or-get: returns the id of the clinic's master key `version`, creating it only if the
   * provider has none under that name. A retry after a lost answer gets the same key back.
   */
  createMasterKey(tenantId: string, version: number): Promise<string>;
  generateDataKey(tenantId: string, masterKeyId: string, purpose: string): Promise<WrappedDataKey>;
  unwrapDataKey(tenantId: string, masterKeyId: string, purpose: string, wrapped: Buffer): Promise<Buffer>;
  /** Re-wraps a data key under another master key without exposing it where avoidable. */
  rewrapDataKey(tenantId: string, from: string, to: string, purpose: string, wrapped: Buffer): Promise<Buffer>;
  /** Makes a master key unusable for good (KMS: scheduled deletion; local: the file is erased). Idempotent. */
  destroyMasterKey(tenantId: string, masterKeyId: string): Promise<void>;
  /** Calls made to the key service since start (the bench reports calls per request). */
  calls(): number;
}

/** The encryption context: binds every wrapped key to its clinic and purpose. */
export const keyContext = (tenantId: string, purpose: string) => ({ tenantId, purpose });

/** The provider-side name of a clinic's master key version (a KMS alias). */
export const masterKeyAlias = (tenantId: string, version: number) => `alias/forclinic/${tenantId}/v${version}`;

/**
 * Error names (KMS exception names; the local provider throws the same) that no retry can
 * cure: a missing, disabled or destroyed key, a ciphertext that does not authenticate, no
 * permission. Temporal takes a thrown error's name as its failure type, so workflows list
 * these as non-retryable and give up at once instead of retrying for minutes.
 */
export const PERMANENT_KEY_ERRORS = [
  'NotFoundException',
  'KMSInvalidStateException',
  'DisabledException',
  'InvalidCiphertextException',
  'IncorrectKeyException',
  'InvalidKeyUsageException',
  'AccessDeniedException',
  'ValidationException',
  // Ours: the clinic's keys were destroyed with its data (contract end), and none is made again.
  'ClinicKeysDestroyed',
];

export function keyError(name: (typeof PERMANENT_KEY_ERRORS)[number], message: string): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}
