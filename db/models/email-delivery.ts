import { TenantScopedModel } from '../tenant-scope';

/** One mail the system means to send (see activities/email.ts for the claim/lease protocol). */
export class EmailDeliveryRow extends TenantScopedModel {
  static tableName = 'email_deliveries';

  id!: string;
  idempotencyKey!: string;
  purpose!: string;
  status!: 'sending' | 'sent' | 'failed';
  /** The attempt currently allowed to call the provider, and until when (database time). */
  claimToken!: string | null;
  leaseExpiresAt!: Date | null;
  /** Provider calls started for this mail. */
  attempts!: number;
  /** The provider's error code of the last failed call; for a failed row, why it failed. */
  lastError!: string | null;
  providerMessageId!: string | null;
  createdAt!: Date;
  sentAt!: Date | null;
  failedAt!: Date | null;
}
