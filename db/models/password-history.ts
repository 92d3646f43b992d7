import { TenantScopedModel } from '../tenant-scope';

export class PasswordHistoryRow extends TenantScopedModel {
  static tableName = 'password_history';

  id!: string;
  accountId!: string;
  passwordHash!: string;
  createdAt!: Date;
}
