import { condition, defineQuery, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { OnboardingState } from '../domain/onboarding';

/**
 * One account's way in, visible to operators in the Temporal UI:
 *   awaiting_first_login ─(first login)→ password_change_required ─(own password)→
 *   [second_factor_enrollment_required ─(passkey)→] active
 * If nobody logs in before the initial password expires, the account waits in
 * initial_password_expired for an administrator's reset, which starts the path over.
 *
 * The database stays the authority for access decisions (the API checks it on every request,
 * and login refuses an expired initial password by its own timestamp); this workflow owns the
 * timer, the waiting and the visible state, and never busy-waits.
 */
export type { OnboardingState };

export interface OnboardingInput {
  tenantId: string;
  accountId: string;
  /** ISO 8601; from the clinic's policy when the password was issued. */
  initialPasswordExpiresAt: string;
}

export const onboardingStateQuery = defineQuery<OnboardingState>('state');
export const firstLoginSignal = defineSignal('firstLogin');
export const passwordChangedSignal = defineSignal<[{ secondFactorRequired: boolean }]>('passwordChanged');
export const passkeyRegisteredSignal = defineSignal('passkeyRegistered');
export const passwordResetSignal = defineSignal<[{ initialPasswordExpiresAt: string }]>('passwordReset');

const { expireInitialPassword } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumInterval: '1 minute' },
});

export async function accountOnboardingWorkflow(input: OnboardingInput): Promise<{ accountId: string; state: OnboardingState }> {
  let state: OnboardingState = 'awaiting_first_login';
  let expiresAt = Date.parse(input.initialPasswordExpiresAt);
  let resets = 0;

  setHandler(onboardingStateQuery, () => state);
  setHandler(firstLoginSignal, () => {
    if (state === 'awaiting_first_login') state = 'password_change_required';
  });
  setHandler(passwordChangedSignal, ({ secondFactorRequired }) => {
    if (state === 'password_change_required') state = secondFactorRequired ? 'second_factor_enrollment_required' : 'active';
  });
  setHandler(passkeyRegisteredSignal, () => {
    if (state === 'second_factor_enrollment_required') state = 'active';
  });
  setHandler(passwordResetSignal, ({ initialPasswordExpiresAt }) => {
    state = 'awaiting_first_login';
    expiresAt = Date.parse(initialPasswordExpiresAt);
    resets += 1;
  });

  // Signal handlers change `state`; read it through a function so the type checker does not narrow it.
  const now = (): OnboardingState => state;
  while (now() !== 'active') {
    const current = now();
    const seenResets = resets;
    if (current === 'awaiting_first_login') {
      const moved = await condition(() => state !== current || resets !== seenResets, Math.max(0, expiresAt - Date.now()));
      if (moved) continue;
      if (await expireInitialPassword({ tenantId: input.tenantId, accountId: input.accountId })) {
        state = 'initial_password_expired';
        continue;
      }
      // The account moved on just before the deadline; its signal is on the way.
    }
    await condition(() => state !== current || resets !== seenResets);
  }
  return { accountId: input.accountId, state };
}
