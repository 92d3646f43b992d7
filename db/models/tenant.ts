import { Model } from 'objection';
import type { Tenant, TenantStatus } from '../../domain/tenant';
import type { ContractState } from '../../domain/contract';

/** The registry of clinics. Not tenant-owned itself: only operators list it. */
export class TenantRow extends Model {
  static tableName = 'tenants';
  static jsonAttributes: string[] = [];

  id!: string;
  slug!: string;
  name!: string;
  contractEmails!: string[];
  status!: TenantStatus;
  contractEndsAt!: Date | null;
  contractState!: ContractState;
  legalHoldReason!: string | null;
  legalHoldAt!: Date | null;
  legalHoldLiftedAt!: Date | null;
  /** Counts the changes of the contract end: the contract-end workflow keys its mails by it. */
  contractPlan!: number;
  /** When the contract end was last set, moved or removed. */
  contractPlanAt!: Date | null;
  createdAt!: Date;
  updatedAt!: Date;

  toApi(): Tenant {
    return {
      id: this.id,
      slug: this.slug,
      name: this.name,
      contractEmails: this.contractEmails,
      status: this.status,
      contractEndsAt: this.contractEndsAt?.toISOString() ?? null,
      contractState: this.contractState,
      legalHold: this.legalHoldReason !== null && this.legalHoldAt ? { reason: this.legalHoldReason, since: this.legalHoldAt.toISOString() } : null,
      createdAt: this.createdAt.toISOString(),
      updatedAt: this.updatedAt.toISOString(),
    };
  }
}
