// The worker's workflow bundle: every workflow type it can run.
export { tenantProvisioningWorkflow } from './tenant-provisioning';
export { accountOnboardingWorkflow } from './account-onboarding';
export { keyRotationWorkflow } from './key-rotation';
export { consultationWorkflow } from './consultation';
export { maintenanceWorkflow } from './maintenance';
export { workflowOutboxSweepWorkflow } from './workflow-outbox-sweep';
export { accountLockoutWorkflow } from './account-lockout';
export { incidentNotificationWorkflow } from './incident';
export { changeNoticeWorkflow } from './change-notice';
export { noticeBatchWorkflow } from './notice-fanout';
export { incidentReportWorkflow } from './incident-report';
export { backupWorkflow } from './backup';
export { backupVerificationWorkflow } from './backup-verification';
export { restoreTestWorkflow } from './restore-test';
export { dataExportWorkflow } from './data-export';
