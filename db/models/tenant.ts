import { Model } from 'objection';
import type { Tenant, TenantStatus } from '../../domain/tenant';

/** The registry of clinics. Not tenant-owned itself: only operators list it. */
export class TenantRow extends Model {
  static tableName = 'tenants';
  static jsonAttributes: string[] = [];

  id!: string;
  slug!: string;
  name!: string;
  contractEmails!: string[];
  status!: TenantStatus;
  createdAt!: Date;
  updatedAt!: Date;

  toApi(): Tenant {
    return {
      id: this.id,
      slug: this.slug,
      name: this.name,
      contractEmails: this.contractEmails,
      status: this.status,
      createdAt: this.createdAt.toISOString(),
      updatedAt: this.updatedAt.toISOString(),
    };
  }
}
