import type { SignalDefinition } from '@temporalio/common';
import { setOnboardingState } from '../../db/accounts';
import type { WorkflowIntent } from '../../db/outbox';
import type { TenantTransaction } from '../../db/tenant-scope';
import { advanceOnboarding, type OnboardingFact, type OnboardingState } from '../../domain/onboarding';
import { TENANT_ID } from '../../temporal/search-attributes';
import { accountOnboardingWorkflowId } from '../../temporal/workflow-ids';
import type {
  accountDeletedSignal,
  accountOnboardingWorkflow,
  firstLoginSignal,
  passkeyRegisteredSignal,
  passwordChangedSignal,
  passwordResetSignal,
} from '../../workflows/account-onboarding';
import type { Enqueue } from '../commit-then-dispatch';

/**
 * The onboarding workflow's side of account changes, as outbox intents: each is enqueued in the
 * transaction that makes the change (account created, password reset, first login, password
 * changed, passkey registered) and sent after commit. The database decides access; the workflow
 * holds the timer and the state operators see, and applies each fact monotonically.
 */
type Input = Parameters<typeof accountOnboardingWorkflow>[0];
type ArgsOf<S> = S extends SignalDefinition<infer A, string> ? A : never;

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
    signalArgs: [{ initialPasswordExpiresAt: expiresAt }] satisfies ArgsOf<typeof passwordResetSignal>,
  };
}

/** The account was deleted before its way in ended: the workflow stops waiting (a finished run is left alone). */
export function endOnboarding(a: { id: string; onboardingState: OnboardingState }): WorkflowIntent | undefined {
  if (a.onboardingState === 'active') return undefined;
  return { kind: 'signal', workflowId: accountOnboardingWorkflowId(a.id), signal: 'accountDeleted' satisfies (typeof accountDeletedSignal)['name'], args: [] };
}

/** The signal that tells the workflow a fact, with the arguments its handler expects. */
function onboardingFact(accountId: string, fact: OnboardingFact): WorkflowIntent {
  const workflowId = accountOnboardingWorkflowId(accountId);
  switch (fact.kind) {
    case 'firstLogin':
      return { kind: 'signal', workflowId, signal: 'firstLogin' satisfies (typeof firstLoginSignal)['name'], args: [] };
    case 'passwordChanged':
      return {
        kind: 'signal',
        workflowId,
        signal: 'passwordChanged' satisfies (typeof passwordChangedSignal)['name'],
        args: [{ secondFactorRequired: fact.secondFactorRequired }] satisfies ArgsOf<typeof passwordChangedSignal>,
      };
    case 'passkeyRegistered':
      return { kind: 'signal', workflowId, signal: 'passkeyRegistered' satisfies (typeof passkeyRegisteredSignal)['name'], args: [] };
  }
}

/**
 * Records a fact in the account's transaction: the account's stage moves on (never back, see
 * domain/onboarding.ts) and, if it moved, the workflow hears of it after commit. Returns the stage.
 */
export async function recordOnboardingFact(
  trx: TenantTransaction,
  enqueue: Enqueue,
  account: { id: string; onboardingState: OnboardingState },
  fact: OnboardingFact,
): Promise<OnboardingState> {
  const next = advanceOnboarding(account.onboardingState, fact);
  if (next === account.onboardingState) return next;
  await setOnboardingState(trx, account.id, next);
  await enqueue(onboardingFact(account.id, fact));
  return next;
}
