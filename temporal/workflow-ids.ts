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
/** One notice per sign-in from somewhere new: the session it made. */
export const signInNoticeWorkflowId = (sessionId: string) => `sign-in-notice/${sessionId}`;
/** One notice per operator action that opened a way into a clinic (application/operators/clinic-access-notice.ts). */
export const clinicAccessNoticeWorkflowId = (noticeId: string) => `clinic-access-notice/${noticeId}`;
export const contractEndWorkflowId = (tenantId: string) => `contract-end/${tenantId}`;
/** One alert per break-glass window (its break_glass_uses row), so starting it twice is harmless. */
export const breakGlassAlertWorkflowId = (windowId: string) => `break-glass-alert/${windowId}`;
/** One notice per lockout of an operator (operators.lockouts counts them). */
export const operatorLockoutWorkflowId = (operatorId: string, lockout: number) => `operator-lockout/${operatorId}/${lockout}`;
/** One notice per widening of operator access (an operator created, roles given, an API key made). */
export const operatorAccessNoticeWorkflowId = (noticeId: string) => `operator-access-notice/${noticeId}`;
export const dataExportWorkflowId = (exportId: string) => `data-export/${exportId}`;
