import type { Client } from '@temporalio/client';
import type { Logger } from '../lib/logger';
import { TENANT_ID } from '../temporal/search-attributes';
import { accountOnboardingWorkflowId } from '../temporal/workflow-ids';
import type {
  accountOnboardingWorkflow,
  firstLoginSignal,
  passkeyRegisteredSignal,
  passwordChangedSignal,
  passwordResetSignal,
} from '../workflows/account-onboarding';

/**
 * The API's side of the onboarding workflow. Starting it is part of creating an account (if
 * Temporal refuses, the account is not created). Signals follow committed database changes;
 * if one cannot be delivered the database, which decides access, is still right, and the
 * failure is logged for the operator.
 */
export async function startOnboarding(client: Client, taskQueue: string, a: { tenantId: string; accountId: string; initialPasswordExpiresAt: Date }) {
  await client.workflow.start<typeof accountOnboardingWorkflow>('accountOnboardingWorkflow', {
    workflowId: accountOnboardingWorkflowId(a.accountId),
    taskQueue,
    args: [{ tenantId: a.tenantId, accountId: a.accountId, initialPasswordExpiresAt: a.initialPasswordExpiresAt.toISOString() }],
    typedSearchAttributes: [{ key: TENANT_ID, value: a.tenantId }],
  });
}

/** A reset restarts onboarding: signals the running execution, or starts a new one if it had finished. */
export async function restartOnboarding(client: Client, taskQueue: string, a: { tenantId: string; accountId: string; initialPasswordExpiresAt: Date }) {
  const expiresAt = a.initialPasswordExpiresAt.toISOString();
  await client.workflow.signalWithStart<typeof accountOnboardingWorkflow, [{ initialPasswordExpiresAt: string }]>('accountOnboardingWorkflow', {
    workflowId: accountOnboardingWorkflowId(a.accountId),
    taskQueue,
    args: [{ tenantId: a.tenantId, accountId: a.accountId, initialPasswordExpiresAt: expiresAt }],
    typedSearchAttributes: [{ key: TENANT_ID, value: a.tenantId }],
    signal: 'passwordReset' satisfies (typeof passwordResetSignal)['name'],
    signalArgs: [{ initialPasswordExpiresAt: expiresAt }],
  });
}

type SignalName = (typeof firstLoginSignal | typeof passwordChangedSignal | typeof passkeyRegisteredSignal)['name'];

export async function signalOnboarding(client: Client, log: Logger, accountId: string, signal: SignalName, ...args: unknown[]) {
  try {
    await client.workflow.getHandle(accountOnboardingWorkflowId(accountId)).signal(signal, ...args);
  } catch (err) {
    log.warn({ err: (err as Error).message, accountId, signal }, 'could not signal the onboarding workflow');
  }
}
