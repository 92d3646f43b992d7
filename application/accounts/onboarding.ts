import type { WorkflowIntent } from '../../db/outbox';
import { TENANT_ID } from '../../temporal/search-attributes';
import { accountOnboardingWorkflowId } from '../../temporal/workflow-ids';
import type { accountOnboardingWorkflow, firstLoginSignal, passkeyRegisteredSignal, passwordChangedSignal, passwordResetSignal } from '../../workflows/account-onboarding';

/**
 * The onboarding workflow's side of account changes, as outbox intents: each is enqueued in the
 * transaction that makes the change (account created, password reset, first login, password
 * changed, passkey registered) and sent after commit. The database decides access; the workflow
 * holds the timer and the state operators see, and applies each fact idempotently.
 */
type Input = Parameters<typeof accountOnboardingWorkflow>[0];

export function startOnboarding(a: { tenantId: string; accountId: string; initialPasswordExpiresAt: Date }): WorkflowIntent {
  const input: Input = { tenantId: a.tenantId, accountId: a.accountId, initialPasswordExpiresAt: a.initialPasswordExpiresAt.toISOString() };
  return {
    kind: 'start',
    workflowId: accountOnboardingWorkflowId(a.accountId),
    workflowType: 'accountOnboardingWorkflow',
    args: [input],
    searchAttributes: { [TENANT_ID.name]: a.tenantId },
  };
}

/** A reset restarts onboarding: signals the running execution, or starts a new one if it had finished. */
export function restartOnboarding(a: { tenantId: string; accountId: string; initialPasswordExpiresAt: Date }): WorkflowIntent {
  const expiresAt = a.initialPasswordExpiresAt.toISOString();
  const input: Input = { tenantId: a.tenantId, accountId: a.accountId, initialPasswordExpiresAt: expiresAt };
  return {
    kind: 'signal_with_start',
    workflowId: accountOnboardingWorkflowId(a.accountId),
    workflowType: 'accountOnboardingWorkflow',
    args: [input],
    searchAttributes: { [TENANT_ID.name]: a.tenantId },
    signal: 'passwordReset' satisfies (typeof passwordResetSignal)['name'],
    signalArgs: [{ initialPasswordExpiresAt: expiresAt }],
  };
}

type FactSignal = (typeof firstLoginSignal | typeof passwordChangedSignal | typeof passkeyRegisteredSignal)['name'];

export function onboardingFact(accountId: string, signal: FactSignal, ...args: unknown[]): WorkflowIntent {
  return { kind: 'signal', workflowId: accountOnboardingWorkflowId(accountId), signal, args };
}
