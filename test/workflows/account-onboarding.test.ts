import { randomUUID } from 'node:crypto';
import { TENANT_ID } from '../../temporal/search-attributes';
import { accountOnboardingWorkflowId } from '../../temporal/workflow-ids';
import type { accountOnboardingWorkflow } from '../../workflows/account-onboarding';
import { eventually } from '../harness/clinic';
import { recordHistory } from '../harness/history';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * The onboarding workflow hears facts through the outbox: in commit order, but possibly twice,
 * and sometimes without the fact before them. Whatever arrives, it must end where the facts lead.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

const inThreeDays = () => new Date(Date.now() + 3 * 86_400_000).toISOString();

async function start(initialPasswordExpiresAt = inThreeDays()) {
  const tenantId = randomUUID();
  const accountId = randomUUID();
  return stack.temporal.client.workflow.start<typeof accountOnboardingWorkflow>('accountOnboardingWorkflow', {
    workflowId: accountOnboardingWorkflowId(accountId),
    taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
    args: [{ tenantId, accountId, initialPasswordExpiresAt }],
    typedSearchAttributes: [{ key: TENANT_ID, value: tenantId }],
  });
}

type Handle = Awaited<ReturnType<typeof start>>;
const reaches = (handle: Handle, state: string) => eventually(`state ${state}`, async () => (await handle.query<string>('state')) === state);

describe('accountOnboardingWorkflow applies facts monotonically', () => {
  it('finishes on a password change heard while still awaiting the first login', async () => {
    const handle = await start();
    await handle.signal('passwordChanged', { secondFactorRequired: false });
    expect(await handle.result()).toEqual({ accountId: expect.any(String), state: 'active' });
  });

  it('ignores repeated facts and a repeated reset, and never moves back', async () => {
    const handle = await start();
    await handle.signal('firstLogin');
    await handle.signal('firstLogin');
    await reaches(handle, 'password_change_required');

    const reset = { initialPasswordExpiresAt: inThreeDays() };
    await handle.signal('passwordReset', reset);
    await reaches(handle, 'awaiting_first_login');
    await handle.signal('firstLogin');
    await reaches(handle, 'password_change_required');
    // The same reset delivered again (a dispatch that reached Temporal and was sent once more).
    await handle.signal('passwordReset', reset);
    expect(await handle.query<string>('state')).toBe('password_change_required');
    await handle.signal('passwordChanged', { secondFactorRequired: true });
    await reaches(handle, 'second_factor_enrollment_required');
    await handle.signal('passwordChanged', { secondFactorRequired: true });
    await handle.signal('firstLogin');
    expect(await handle.query<string>('state')).toBe('second_factor_enrollment_required');
    await handle.signal('passkeyRegistered');
    expect(await handle.result()).toEqual({ accountId: expect.any(String), state: 'active' });
  });
});

describe('accountOnboardingWorkflow of an account that is gone', () => {
  it('ends when told the account was deleted, wherever it stood', async () => {
    const handle = await start();
    await handle.signal('firstLogin');
    await reaches(handle, 'password_change_required');
    await handle.signal('accountDeleted');
    expect(await handle.result()).toEqual({ accountId: expect.any(String), state: 'password_change_required', outcome: 'account_missing' });
    await recordHistory(handle, 'account-onboarding-deleted');
  });

  it('ends when the expiry check finds no account (deleted, the signal lost), instead of waiting for a reset forever', async () => {
    // No row was ever committed for this account, as for one deleted whose signal never came.
    const handle = await start(new Date(Date.now() - 60_000).toISOString());
    expect(await handle.result()).toEqual({ accountId: expect.any(String), state: 'awaiting_first_login', outcome: 'account_missing' });
  });
});
