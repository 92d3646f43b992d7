import type { SessionState } from '../../domain/sign-in';
import { TenantScopedModel } from '../tenant-scope';

export type { SessionState };

export class SessionRow extends TenantScopedModel {
  static tableName = 'sessions';

  id!: string;
  accountId!: string;
  tokenHash!: Buffer;
  state!: SessionState;
  clientIp!: string | null;
  userAgent!: string | null;
  createdAt!: Date;
  lastSeenAt!: Date;
  idleExpiresAt!: Date;
  absoluteExpiresAt!: Date;
  revokedAt!: Date | null;
  /** When the session last proved a password or a passkey. */
  verifiedAt!: Date;
  /** When the session last presented a passkey; null for a password-only session. */
  secondFactorAt!: Date | null;
  /** The passkey it presented then; null once that passkey is removed. */
  secondFactorCredentialId!: string | null;
  /** It began as a sign-in from a device or network the account had not used lately (its holder was mailed, up to a daily cap). */
  newDevice!: boolean;
}
