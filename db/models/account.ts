import type { OnboardingState } from '../../domain/onboarding';
import type { Role } from '../../domain/roles';
import { TenantScopedModel } from '../tenant-scope';

export type { OnboardingState };

export class AccountRow extends TenantScopedModel {
  static tableName = 'accounts';

  id!: string;
  loginId!: string;
  email!: string;
  displayName!: string;
  roles!: Role[];
  disabled!: boolean;
  deletedAt!: Date | null;
  onboardingState!: OnboardingState;
  passwordHash!: string;
  passwordIsInitial!: boolean;
  initialPasswordExpiresAt!: Date | null;
  passwordChangedAt!: Date;
  failedLoginCount!: number;
  lastFailedLoginAt!: Date | null;
  lockedUntil!: Date | null;
  /** Lockouts so far (each lockout's notice workflow is named by its number). */
  lockouts!: number;
  lastLoginAt!: Date | null;
  createdAt!: Date;
  updatedAt!: Date;
}
