import { condition, defineQuery, defineSignal, patched, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { advanceOnboarding, type OnboardingFact, type OnboardingState } from '../domain/onboarding';

/**
 * One account's way in, visible to operators in the Temporal UI:
 *   awaiting_first_login ─(first login)→ password_change_required ─(own password)→
 *   [second_factor_enrollment_required ─(passkey)→] active
 * If nobody logs in before the initial password expires, the account waits in
 * initial_password_expired for an administrator's reset, which starts the path over. An account
 * deleted before it became active ends the run (`outcome: account_missing`).
 *
 * The database stays the authority for access decisions (the API checks it on every request,
 * and login refuses an expired initial password by its own timestamp); this workflow owns the
 * timer, the waiting and the visible state, and never busy-waits.
 *
 * Facts arrive through the workflow outbox, in the order they were committed, but possibly
 * twice (a dispatch that reached Temporal and was not marked is sent again). Each is applied
 * monotonically (domain/onboarding.ts): the stage only moves forward, whatever fact comes when,
 * so a repeat changes nothing and a late or early fact cannot strand the account. A reset is the
 * one way back; a repeat of the reset already applied (same expiry) changes nothing.
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
/** The account was deleted: nothing is left to wait for. */
export const accountDeletedSignal = defineSignal('accountDeleted');

export interface OnboardingResult {
  accountId: string;
  /** Where the account's way in stood when the run ended. */
  state: OnboardingState;
  /** `account_missing`: the account was deleted (told by signal, or found gone by the expiry check) before it became active. */
  outcome?: 'account_missing';
}

const { expireInitialPassword, checkInitialPasswordExpiry } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumInterval: '1 minute' },
});

export async function accountOnboardingWorkflow(input: OnboardingInput): Promise<OnboardingResult> {
  let state: OnboardingState = 'awaiting_first_login';
  let missing = false;
  let expiresAt = Date.parse(input.initialPasswordExpiresAt);
  /** Counts every change of `state` or `expiresAt`: what the waits below wake up on. */
  let changes = 0;
  const apply = (fact: OnboardingFact) => {
    const next = advanceOnboarding(state, fact);
    if (next === state) return;
    state = next;
    changes += 1;
  };

  setHandler(onboardingStateQuery, () => state);
  setHandler(firstLoginSignal, () => apply({ kind: 'firstLogin' }));
  setHandler(passwordChangedSignal, ({ secondFactorRequired }) => apply({ kind: 'passwordChanged', secondFactorRequired }));
  setHandler(passkeyRegisteredSignal, () => apply({ kind: 'passkeyRegistered' }));
  setHandler(passwordResetSignal, ({ initialPasswordExpiresAt }) => {
    const at = Date.parse(initialPasswordExpiresAt);
    if (at === expiresAt) return;
    state = 'awaiting_first_login';
    expiresAt = at;
    changes += 1;
  });
  setHandler(accountDeletedSignal, () => {
    missing = true;
    changes += 1;
  });

  // Signal handlers change `state`; read it through a function so the type checker does not narrow it.
  const now = (): OnboardingState => state;
  const gone = () => missing;
  while (now() !== 'active' && !gone()) {
    const seen = changes;
    if (now() === 'awaiting_first_login') {
      const moved = await condition(() => changes !== seen, Math.max(0, expiresAt - Date.now()));
      if (moved) continue;
      const account = { tenantId: input.tenantId, accountId: input.accountId };
      // Runs begun before the recheck existed replay with the boolean activity.
      const outcome = patched('onboarding-expiry-recheck') ? await checkInitialPasswordExpiry(account) : (await expireInitialPassword(account)) ? 'expired' : 'moved_on';
      // Not yet expired on PostgreSQL's clock (behind ours): ask again in a minute.
      if (outcome === 'not_due' && changes === seen) {
        await condition(() => changes !== seen, '1 minute');
        continue;
      }
      // Deleted (or never committed): no login or reset can come any more.
      if (outcome === 'gone') {
        missing = true;
        continue;
      }
      // Only if nothing was heard meanwhile: a fact or reset that arrived during the activity is newer.
      if (outcome === 'expired' && changes === seen) {
        state = 'initial_password_expired';
        changes += 1;
        continue;
      }
      // The account moved on just before the deadline; its signal is on the way (or has arrived).
    }
    await condition(() => changes !== seen);
  }
  return { accountId: input.accountId, state, ...(missing ? { outcome: 'account_missing' as const } : {}) };
}
