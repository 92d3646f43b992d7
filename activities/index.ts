import type { Db } from '../db/connection';
import type { Mailer } from '../lib/mailer';
import { createAccountLockoutActivities } from './account-lockout';
import { createSignInNoticeActivities } from './sign-in-notice';
import { createClinicAccessNoticeActivities } from './clinic-access-notice';
import { createAccountOnboardingActivities } from './account-onboarding';
import { createConsultationActivities } from './consultations';
import { createKeyManagementActivities } from './key-management';
import { createMaintenanceActivities } from './maintenance';
import { createTenantProvisioningActivities } from './tenant-provisioning';
import type { Vault } from '../lib/crypto/vault';
import type { WorkflowOutbox } from '../temporal/workflow-outbox';
import { createWorkflowOutboxActivities } from './workflow-outbox';
import { createConsultationReconcilerActivities } from './consultation-reconciler';
import type { Client } from '@temporalio/client';
import { createNoticeActivities, type NoticeSettings } from './notices';
import { createBackupActivities, type BackupServices } from './backups';
import { createContractEndActivities, type ContractEndServices } from './contract-end';
import { createOperatorActivities, type OperatorActivitySettings } from './operators';
import { createDataExportActivities } from './data-exports';
import type { ObjectStore } from '../lib/storage/object-store';

export interface ActivityDeps {
  db: Db;
  mailer: Mailer;
  vault: Vault;
  /** The sweeper's way to Temporal (a client on the worker's own connection). */
  outbox: WorkflowOutbox;
  /** For activities that read Temporal's visibility (the consultation reconciler). */
  temporal: Client;
  /** Notices: the security contact named in mails and receiving clinics' reports (config SECURITY_CONTACT_EMAIL). */
  notices?: NoticeSettings;
  /** Backups, their verification and restore tests (lib/backup/). */
  backups: BackupServices;
  /** Contract end: timings, the purge's login, storage, the certificate key (workers/contract-end-services.ts). */
  contractEnd?: ContractEndServices;
  /** Operators: where break-glass uses are mailed (config SECURITY_EMAILS). */
  operators?: OperatorActivitySettings;
  /** Where clinics' encrypted files and data export archives live (STORAGE, lib/storage). */
  storage: ObjectStore;
}

/** Every activity the workers register, built once with the process's dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createTenantProvisioningActivities(deps),
    ...createAccountOnboardingActivities(deps),
    ...createAccountLockoutActivities(deps),
    ...createSignInNoticeActivities(deps),
    ...createClinicAccessNoticeActivities(deps),
    ...createKeyManagementActivities(deps),
    ...createConsultationActivities(deps),
    ...createMaintenanceActivities(deps),
    ...createWorkflowOutboxActivities(deps),
    ...createConsultationReconcilerActivities(deps),
    ...createNoticeActivities(deps),
    ...createBackupActivities(deps),
    ...createContractEndActivities(deps),
    ...createOperatorActivities(deps),
    ...createDataExportActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
