import type { Db } from '../db/connection';
import type { Mailer } from '../lib/mailer';
import { createAccountOnboardingActivities } from './account-onboarding';
import { createTenantProvisioningActivities } from './tenant-provisioning';

export interface ActivityDeps {
  db: Db;
  mailer: Mailer;
}

/** Every activity the workers register, built once with the process's dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createTenantProvisioningActivities(deps),
    ...createAccountOnboardingActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
