/**
 * Workflow ids are derived from the entity they run for, so starting twice is a no-op and an
 * operator can find the process from the entity. Ids carry opaque UUIDs only, never personal data.
 */
export const tenantProvisioningWorkflowId = (tenantId: string) => `tenant-provisioning/${tenantId}`;
export const accountOnboardingWorkflowId = (accountId: string) => `account-onboarding/${accountId}`;
export const keyRotationWorkflowId = (tenantId: string) => `key-rotation/${tenantId}`;
export const consultationWorkflowId = (consultationId: string) => `consultation/${consultationId}`;
export const incidentWorkflowId = (incidentId: string) => `incident/${incidentId}`;
export const changeNoticeWorkflowId = (noticeId: string) => `change-notice/${noticeId}`;
export const incidentReportWorkflowId = (reportId: string) => `incident-report/${reportId}`;
export const accountLockoutWorkflowId = (accountId: string, lockout: number) => `account-lockout/${accountId}/${lockout}`;
export const dataExportWorkflowId = (exportId: string) => `data-export/${exportId}`;
