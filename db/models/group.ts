import { TenantScopedModel } from '../tenant-scope';

export class GroupRow extends TenantScopedModel {
  static tableName = 'groups';

  id!: string;
  name!: string;
  createdAt!: Date;
  updatedAt!: Date;
}

export class GroupMemberRow extends TenantScopedModel {
  static tableName = 'group_members';
  static idColumn = ['group_id', 'account_id'];

  groupId!: string;
  accountId!: string;
  addedAt!: Date;
}
