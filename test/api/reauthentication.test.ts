import { randomUUID } from 'node:crypto';
import { clinicWithAdmin, createAccount, eventually, login, STRONG_PASSWORD } from '../harness/clinic';
import { call } from '../harness/http';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * A live session is not enough to change how an account signs in: adding or removing a passkey
 * needs a password or passkey proved within the last 5 minutes. Sessions are aged by rewriting
 * their proof time, never by waiting.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

const ageProof = (token: string, seconds: number) =>
  stack.database.ownerDb('sessions').whereNull('revoked_at').update({ verified_at: stack.database.ownerDb.raw(`now() - make_interval(secs => ?)`, [seconds]) }).then(() => token);

describe('re-authentication for passkey changes', () => {
  it('refuses to add or remove a passkey with a stale proof (403 reauthentication_required) until the password is confirmed', async () => {
    const { clinic } = await clinicWithAdmin(stack);
    const token = (await login(stack, clinic, 'admin', STRONG_PASSWORD)).body.token as string;
    // Fresh from the login: allowed.
    expect((await call(stack.url, 'POST', '/v1/auth/webauthn/registration/options', { token })).status).toBe(200);

    await ageProof(token, 301);
    const add = await call(stack.url, 'POST', '/v1/auth/webauthn/registration/options', { token });
    expect([add.status, add.body.code]).toEqual([403, 'reauthentication_required']);
    const remove = await call(stack.url, 'DELETE', `/v1/auth/webauthn/credentials/${randomUUID()}`, { token });
    expect([remove.status, remove.body.code]).toEqual([403, 'reauthentication_required']);
    // The session itself still works for everything else.
    expect((await call(stack.url, 'GET', '/v1/me', { token })).status).toBe(200);

    const wrong = await call(stack.url, 'POST', '/v1/auth/reauthenticate', { token, json: { password: 'not-my-password' } });
    expect([wrong.status, wrong.body.code]).toEqual([400, 'invalid_current_password']);
    expect((await call(stack.url, 'POST', '/v1/auth/webauthn/registration/options', { token })).status).toBe(403);

    expect((await call(stack.url, 'POST', '/v1/auth/reauthenticate', { token, json: { password: STRONG_PASSWORD } })).status).toBe(204);
    expect((await call(stack.url, 'POST', '/v1/auth/webauthn/registration/options', { token })).status).toBe(200);
    // Past the proof, removal reaches its own checks (this passkey does not exist).
    expect((await call(stack.url, 'DELETE', `/v1/auth/webauthn/credentials/${randomUUID()}`, { token })).status).toBe(404);

    const log = await stack.database.ownerDb('audit_events').where({ tenant_id: clinic.id, action: 'session.reauthenticate' }).orderBy('id');
    expect(log.map((e: { outcome: string }) => e.outcome)).toEqual(['failed', 'success']);
  });

  it('counts wrong re-authentication passwords toward the lockout', async () => {
    const { clinic, adminId } = await clinicWithAdmin(stack);
    const token = (await login(stack, clinic, 'admin', STRONG_PASSWORD)).body.token as string;
    const codes = [];
    for (let i = 0; i < 5; i += 1) codes.push((await call(stack.url, 'POST', '/v1/auth/reauthenticate', { token, json: { password: `wrong-${i}` } })).body.code);
    expect(codes).toEqual([...Array(4).fill('invalid_current_password'), 'account_locked']);
    const right = await call(stack.url, 'POST', '/v1/auth/reauthenticate', { token, json: { password: STRONG_PASSWORD } });
    expect([right.status, right.body.code]).toEqual([423, 'account_locked']);
    expect((await stack.database.ownerDb('accounts').where({ id: adminId }).first()).lockouts).toBe(1);
  });
});

describe('re-authentication for changes that hand out access', () => {
  it('refuses a new account, a password reset, a new role, a re-enabled account, a new e-mail, the sign-in rules and the allowlist on a stale proof; taking access away stays open', async () => {
    const { clinic, adminId } = await clinicWithAdmin(stack);
    const token = (await login(stack, clinic, 'admin', STRONG_PASSWORD)).body.token as string;
    const nurse = await createAccount(stack, token, 'nurse');
    const gone = await createAccount(stack, token, 'gone');
    expect((await call(stack.url, 'PATCH', `/v1/accounts/${gone.accountId}`, { token, json: { disabled: true } })).status).toBe(200);
    // Dropping `auditor` gives the account back its roles' writes: that hands out access too.
    const watcher = await createAccount(stack, token, 'watcher', ['admin', 'auditor']);
    await ageProof(token, 301);

    const handingOut: Array<[string, string, unknown]> = [
      ['POST', '/v1/accounts', { loginId: 'intruder', email: 'intruder@example.jp', displayName: 'Intruder', roles: ['admin'] }],
      ['POST', `/v1/accounts/${nurse.accountId}/reset-password`, {}],
      ['PATCH', `/v1/accounts/${nurse.accountId}`, { roles: ['staff', 'admin'] }],
      ['PATCH', `/v1/accounts/${gone.accountId}`, { disabled: false }],
      ['PATCH', `/v1/accounts/${nurse.accountId}`, { email: 'elsewhere@example.jp' }],
      ['PATCH', `/v1/accounts/${watcher.accountId}`, { roles: ['admin'] }],
      ['PUT', '/v1/settings/password-policy', { secondFactor: 'none', lockout: { maxFailures: 100 } }],
      ['PUT', '/v1/settings/network-allowlist', { cidrs: ['203.0.113.0/24'], confirmSelfLockout: true }],
    ];
    for (const [method, path, json] of handingOut) {
      const res = await call(stack.url, method, path, { token, json });
      expect([method, path, res.status, res.body.code]).toEqual([method, path, 403, 'reauthentication_required']);
    }
    // Nothing of it happened, and every refusal is in the clinic's log, naming the admin.
    expect(await stack.database.ownerDb('accounts').where({ tenant_id: clinic.id, login_id: 'intruder' }).first()).toBeUndefined();
    expect((await call(stack.url, 'GET', `/v1/accounts/${nurse.accountId}`, { token })).body).toMatchObject({ roles: ['staff'], email: 'nurse@example.jp' });
    expect((await call(stack.url, 'GET', '/v1/settings/network-allowlist', { token })).body.cidrs).toEqual([]);
    const denied = await stack.database.ownerDb('audit_events').where({ tenant_id: clinic.id, outcome: 'denied', actor_id: adminId }).orderBy('id');
    expect(denied.map((e: { action: string; details: { code: string } }) => [e.action, e.details.code])).toEqual([
      ['account.create', 'reauthentication_required'],
      ['account.password_reset', 'reauthentication_required'],
      ['account.roles_change', 'reauthentication_required'],
      ['account.update', 'reauthentication_required'],
      ['account.update', 'reauthentication_required'],
      ['account.roles_change', 'reauthentication_required'],
      ['settings.password_policy', 'reauthentication_required'],
      ['settings.network_allowlist', 'reauthentication_required'],
    ]);

    // Taking access away and renaming need no proof: they are what one does in a hurry.
    expect((await call(stack.url, 'PATCH', `/v1/accounts/${nurse.accountId}`, { token, json: { displayName: 'Nurse Sato' } })).status).toBe(200);
    expect((await call(stack.url, 'PATCH', `/v1/accounts/${nurse.accountId}`, { token, json: { roles: ['staff'], email: 'nurse@example.jp' } })).status).toBe(200);
    expect((await call(stack.url, 'DELETE', `/v1/accounts/${nurse.accountId}/sessions`, { token })).status).toBe(200);

    expect((await call(stack.url, 'POST', '/v1/auth/reauthenticate', { token, json: { password: STRONG_PASSWORD } })).status).toBe(204);
    const statuses = [];
    for (const [method, path, json] of handingOut) statuses.push((await call(stack.url, method, path, { token, json })).status);
    expect(statuses).toEqual([201, 200, 200, 200, 200, 200, 200, 200]);
  });

  it('refuses a new group member, a wider process-area list, admins seeing every area and an unlock on a stale proof; removing, lowering and renaming stay open', async () => {
    const { clinic, adminId } = await clinicWithAdmin(stack);
    const token = (await login(stack, clinic, 'admin', STRONG_PASSWORD)).body.token as string;
    const nurse = await createAccount(stack, token, 'nurse');
    const clerk = await createAccount(stack, token, 'clerk');
    const group = (await call(stack.url, 'POST', '/v1/groups', { token, json: { name: 'reception' } })).body.id as string;
    expect((await call(stack.url, 'POST', `/v1/groups/${group}/members`, { token, json: { accountId: clerk.accountId } })).status).toBe(200);
    const area = await call(stack.url, 'POST', '/v1/processes', { token, json: { name: '紹介状', allowedAccounts: [{ id: nurse.accountId, right: 'write' }], allowedGroups: [{ id: group, right: 'read' }] } });
    expect(area.status).toBe(201);
    const list = (nurseRight: string, groups: unknown[] = [{ id: group, right: 'read' }]) => ({ allowedAccounts: [{ id: adminId, right: 'manage' }, { id: nurse.accountId, right: nurseRight }], allowedGroups: groups });
    await ageProof(token, 301);

    const handingOut: Array<[string, string, unknown]> = [
      ['POST', `/v1/groups/${group}/members`, { accountId: nurse.accountId }],
      ['PATCH', `/v1/groups/${group}`, { memberIds: [clerk.accountId, nurse.accountId] }],
      ['PATCH', `/v1/processes/${area.body.id}`, list('manage')],
      ['PATCH', `/v1/processes/${area.body.id}`, list('write', [{ id: group, right: 'write' }])],
      ['PUT', '/v1/settings/processes', { adminsSeeAllProcesses: true }],
      ['POST', `/v1/accounts/${nurse.accountId}/unlock`, undefined],
    ];
    for (const [method, path, json] of handingOut) {
      const res = await call(stack.url, method, path, { token, json });
      expect([method, path, res.status, res.body.code]).toEqual([method, path, 403, 'reauthentication_required']);
    }
    expect((await call(stack.url, 'GET', `/v1/groups/${group}`, { token })).body.memberIds).toEqual([clerk.accountId]);
    expect((await call(stack.url, 'GET', '/v1/settings/processes', { token })).body).toEqual({ adminsSeeAllProcesses: false });
    const denied = await stack.database.ownerDb('audit_events').where({ tenant_id: clinic.id, outcome: 'denied', actor_id: adminId }).orderBy('id');
    expect(denied.map((e: { action: string; details: { code: string } }) => [e.action, e.details.code])).toEqual([
      ['group.member_add', 'reauthentication_required'],
      ['group.update', 'reauthentication_required'],
      ['process.update', 'reauthentication_required'],
      ['process.update', 'reauthentication_required'],
      ['settings.processes', 'reauthentication_required'],
      ['account.unlock', 'reauthentication_required'],
    ]);

    // Taking access away, lowering a right, renaming and saving what is stored need no proof.
    const open: Array<[string, string, unknown, number]> = [
      ['PATCH', `/v1/groups/${group}`, { name: 'front desk', memberIds: [] }, 200],
      ['PATCH', `/v1/processes/${area.body.id}`, list('read', []), 200],
      ['PATCH', `/v1/processes/${area.body.id}`, { name: '紹介状 2027' }, 200],
      ['PUT', '/v1/settings/processes', { adminsSeeAllProcesses: false }, 200],
    ];
    for (const [method, path, json, status] of open) expect([method, path, (await call(stack.url, method, path, { token, json })).status]).toEqual([method, path, status]);

    expect((await call(stack.url, 'POST', '/v1/auth/reauthenticate', { token, json: { password: STRONG_PASSWORD } })).status).toBe(204);
    const statuses = [];
    for (const [method, path, json] of handingOut) statuses.push((await call(stack.url, method, path, { token, json })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 204]);
  });

  it('decides on an area\'s list and a group\'s members as they will be changed: concurrent changes queue instead of clashing (409) or deadlocking (503), a removal is never undone without the proof, and nothing keeps what was deleted', async () => {
    const { clinic, adminId } = await clinicWithAdmin(stack);
    const token = (await login(stack, clinic, 'admin', STRONG_PASSWORD)).body.token as string;
    const x = await createAccount(stack, token, 'listed');
    const area = (await call(stack.url, 'POST', '/v1/processes', { token, json: { name: '紹介状' } })).body.id as string;
    const group = (await call(stack.url, 'POST', '/v1/groups', { token, json: { name: 'desk' } })).body.id as string;
    // With a fresh proof, ten identical changes at once all succeed (two at once clashed: 409 conflict).
    const withX = { allowedAccounts: [{ id: adminId, right: 'manage' }, { id: x.accountId, right: 'write' }] };
    const same = await Promise.all(Array.from({ length: 10 }, () => call(stack.url, 'PATCH', `/v1/processes/${area}`, { token, json: withX })));
    expect(same.map((r) => r.status)).toEqual(Array(10).fill(200));
    const members = await Promise.all(Array.from({ length: 10 }, () => call(stack.url, 'PATCH', `/v1/groups/${group}`, { token, json: { memberIds: [x.accountId, adminId] } })));
    expect(members.map((r) => r.status)).toEqual(Array(10).fill(200));

    // A group deleted while an area that lists it is changed (the change names no group): both succeed.
    for (let round = 0; round < 5; round += 1) {
      const doomed = (await call(stack.url, 'POST', '/v1/groups', { token, json: { name: `doomed-${round}` } })).body.id as string;
      expect((await call(stack.url, 'PATCH', `/v1/processes/${area}`, { token, json: { allowedGroups: [{ id: doomed, right: 'read' }] } })).status).toBe(200);
      const [changed, deleted] = await Promise.all([
        call(stack.url, 'PATCH', `/v1/processes/${area}`, { token, json: withX }),
        call(stack.url, 'DELETE', `/v1/groups/${doomed}`, { token }),
      ]);
      expect([changed.status, deleted.status]).toEqual([200, 204]);
    }
    // A group or an account deleted while a change lists it anew: the change is done first (and the
    // deletion takes it off the list) or refused (404); no area is left listing what is gone.
    for (let round = 0; round < 5; round += 1) {
      const doomed = (await call(stack.url, 'POST', '/v1/groups', { token, json: { name: `listed-${round}` } })).body.id as string;
      const gone = await createAccount(stack, token, `gone-${round}`);
      const [listed, groupDeleted, accountDeleted] = await Promise.all([
        call(stack.url, 'PATCH', `/v1/processes/${area}`, { token, json: { allowedAccounts: [...withX.allowedAccounts, { id: gone.accountId, right: 'read' }], allowedGroupIds: [doomed] } }),
        call(stack.url, 'DELETE', `/v1/groups/${doomed}`, { token }),
        call(stack.url, 'DELETE', `/v1/accounts/${gone.accountId}`, { token }),
      ]);
      expect([200, 404]).toContain(listed.status);
      expect([groupDeleted.status, accountDeleted.status]).toEqual([204, 204]);
      const now = JSON.stringify((await call(stack.url, 'GET', `/v1/processes/${area}`, { token })).body);
      expect([now.includes(doomed), now.includes(gone.accountId)]).toEqual([false, false]);
      expect((await call(stack.url, 'PATCH', `/v1/processes/${area}`, { token, json: withX })).status).toBe(200);
    }

    // An account deleted while groups and areas take it in: no deadlock (503), and nothing keeps it.
    for (let round = 0; round < 5; round += 1) {
      const [doomed, stays] = [await createAccount(stack, token, `member-${round}`), await createAccount(stack, token, `stays-${round}`)];
      const team = (await call(stack.url, 'POST', '/v1/groups', { token, json: { name: `team-${round}`, memberIds: [doomed.accountId] } })).body.id as string;
      const both = [doomed.accountId, stays.accountId];
      const answers = await Promise.all([
        call(stack.url, 'DELETE', `/v1/accounts/${doomed.accountId}`, { token }),
        call(stack.url, 'PATCH', `/v1/groups/${team}`, { token, json: { memberIds: [...both].reverse() } }),
        call(stack.url, 'POST', `/v1/groups/${team}/members`, { token, json: { accountId: doomed.accountId } }),
        call(stack.url, 'PATCH', `/v1/processes/${area}`, { token, json: { allowedAccounts: [...withX.allowedAccounts, ...both.map((a) => ({ id: a, right: 'read' }))].reverse(), allowedGroupIds: [team] } }),
      ]);
      expect(answers.map((a) => a.status).filter((s) => s >= 500)).toEqual([]);
      expect(answers[0]!.status).toBe(204);
      expect((await call(stack.url, 'GET', `/v1/groups/${team}`, { token })).body.memberIds).not.toContain(doomed.accountId);
      expect(JSON.stringify((await call(stack.url, 'GET', `/v1/processes/${area}`, { token })).body)).not.toContain(doomed.accountId);
      expect((await call(stack.url, 'PATCH', `/v1/processes/${area}`, { token, json: withX })).status).toBe(200);
    }

    // Stale: one request removes X while another sends X back in the ids-only form (keep its right).
    for (let round = 0; round < 5; round += 1) {
      expect((await call(stack.url, 'POST', '/v1/auth/reauthenticate', { token, json: { password: STRONG_PASSWORD } })).status).toBe(204);
      expect((await call(stack.url, 'PATCH', `/v1/processes/${area}`, { token, json: withX })).status).toBe(200);
      await ageProof(token, 301);
      const [removed, kept] = await Promise.all([
        call(stack.url, 'PATCH', `/v1/processes/${area}`, { token, json: { allowedAccounts: [{ id: adminId, right: 'manage' }] } }),
        call(stack.url, 'PATCH', `/v1/processes/${area}`, { token, json: { allowedAccountIds: [adminId, x.accountId] } }),
      ]);
      expect(removed.status).toBe(200);
      // Before the removal it kept X (then removed); after it, X is new and needs the proof.
      expect([200, 403]).toContain(kept.status);
      const now = (await call(stack.url, 'GET', `/v1/processes/${area}`, { token })).body;
      expect(JSON.stringify(now)).not.toContain(x.accountId);
    }
  });

  it('decides on the account as it will be changed: a stale `disabled: false` waiting behind a disable is refused, not applied after it', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    const nurse = await createAccount(stack, token, 'nurse-r');
    await ageProof(token, 301);
    // Another admin's disable, committed while the stale request waits for the account's row.
    const owner = stack.database.ownerDb;
    const disabling = await owner.transaction();
    try {
      await disabling('accounts').where({ id: nurse.accountId }).update({ disabled: true });
      const patch = call(stack.url, 'PATCH', `/v1/accounts/${nurse.accountId}`, { token, json: { disabled: false } });
      // The request is waiting on the row lock the disable holds (a condition, not a delay).
      await eventually('the re-enable waiting for the row', async () =>
        (await owner.raw(`select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query ilike '%accounts%'`)).rows.length > 0,
      );
      await disabling.commit();
      const answer = await patch;
      expect([answer.status, answer.body.code]).toEqual([403, 'reauthentication_required']);
    } catch (err) {
      await disabling.rollback().catch(() => undefined);
      throw err;
    }
    expect((await owner('accounts').where({ id: nurse.accountId }).first()).disabled).toBe(true);
    const [denied] = await owner('audit_events').where({ tenant_id: clinic.id, action: 'account.update', outcome: 'denied' });
    expect(denied.details.code).toBe('reauthentication_required');
  });
});
