import { TenantScopedModel } from '../tenant-scope';

export class WebauthnCredentialRow extends TenantScopedModel {
  static tableName = 'webauthn_credentials';

  id!: string;
  accountId!: string;
  credentialId!: string;
  publicKey!: Buffer;
  counter!: string | number;
  transports!: string[];
  deviceType!: string;
  backedUp!: boolean;
  name!: string;
  createdAt!: Date;
  lastUsedAt!: Date | null;
}

export class WebauthnChallengeRow extends TenantScopedModel {
  static tableName = 'webauthn_challenges';

  id!: string;
  sessionId!: string;
  purpose!: 'registration' | 'authentication';
  challenge!: string;
  expiresAt!: Date;
}
