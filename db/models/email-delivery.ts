import { TenantScopedModel } from '../tenant-scope';

export class EmailDeliveryRow extends TenantScopedModel {
  static tableName = 'email_deliveries';

  id!: string;
  idempotencyKey!: string;
  purpose!: string;
  status!: 'pending' | 'sent';
  providerMessageId!: string | null;
  createdAt!: Date;
  sentAt!: Date | null;
}
