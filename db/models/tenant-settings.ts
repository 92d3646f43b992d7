import { TenantScopedModel } from '../tenant-scope';

export class TenantSettingsRow extends TenantScopedModel {
  static tableName = 'tenant_settings';
  static jsonAttributes = ['passwordPolicy'];
  static idColumn = 'tenant_id';

  passwordPolicy!: unknown;
  networkAllowlist!: string[];
  adminsSeeAllProcesses!: boolean;
  bookingHorizonDays!: number;
  updatedAt!: Date;
}
