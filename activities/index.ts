import type { Db } from '../db/connection';
import type { Mailer } from '../lib/mailer';
import { createAccountOnboardingActivities } from './account-onboarding';
import { createConsultationActivities } from './consultations';
import { createKeyManagementActivities } from './key-management';
import { createMaintenanceActivities } from './maintenance';
import { createTenantProvisioningActivities } from './tenant-provisioning';
import type { Vault } from '../lib/crypto/vault';

export interface ActivityDeps {
  db: Db;
  mailer: Mailer;
  vault: Vault;
}

/** Every activity the workers register, built once with the process's dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createTenantProvisioningActivities(deps),
    ...createAccountOnboardingActivities(deps),
    ...createKeyManagementActivities(deps),
    ...createConsultationActivities(deps),
    ...createMaintenanceActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
