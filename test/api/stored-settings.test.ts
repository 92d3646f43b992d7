import * as sessionPolicyFloors from '../../db/migrations/20270110000001_session_policy_floors';
import { getSettings, InvalidStoredSettingError } from '../../db/settings';
import { withTenant } from '../../db/tenant-scope';
import { DEFAULT_PASSWORD_POLICY } from '../../domain/password-policy';
import { call } from '../harness/http';
import { clinicWithAdmin, login, STRONG_PASSWORD } from '../harness/clinic';
import { startTestStack, type TestStack } from '../harness/stack';

/** Stored settings fail closed: refused when saved invalid, refused loudly when found invalid. */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

const storedPolicy = async (tenantId: string) => (await stack.database.ownerDb('tenant_settings').where({ tenant_id: tenantId }).first())?.passwordPolicy;

describe('stored settings', () => {
  it('a session policy saved below today\'s floors is raised to them by its migration, not refused as invalid', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    expect((await call(stack.url, 'PUT', '/v1/settings/password-policy', { token, json: { historyCount: 6 } })).status).toBe(200);
    // As a clinic could save it before the floors.
    const db = stack.database.ownerDb;
    await db.raw(`update tenant_settings set password_policy = jsonb_set(password_policy, '{session}', '{"idleTimeoutSeconds": 8, "absoluteLifetimeSeconds": 30}') where tenant_id = ?`, [clinic.id]);
    await sessionPolicyFloors.up(db);
    expect((await storedPolicy(clinic.id)).session).toEqual({ idleTimeoutSeconds: 60, absoluteLifetimeSeconds: 900 });
    expect((await storedPolicy(clinic.id)).historyCount).toBe(6);
    expect((await call(stack.url, 'GET', '/v1/settings/password-policy', { token })).status).toBe(200);
  });

  it('a clinic\'s first saves sent at once all succeed (the settings row is made once, not refused 409)', async () => {
    for (let round = 0; round < 3; round++) {
      const { clinic, token } = await clinicWithAdmin(stack);
      const replies = await Promise.all([
        ...Array.from({ length: 6 }, () => call(stack.url, 'PUT', '/v1/settings/password-policy', { token, json: { historyCount: 6 } })),
        ...Array.from({ length: 2 }, () => call(stack.url, 'PUT', '/v1/settings/processes', { token, json: { adminsSeeAllProcesses: true } })),
      ]);
      expect(replies.map((r) => r.status)).toEqual(Array(8).fill(200));
      expect((await storedPolicy(clinic.id)).historyCount).toBe(6);
    }
  });

  it('logs saves sent at once as a chain: each entry\'s before is the previous entry\'s after, from a clinic\'s first save on', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    const horizons = Array.from({ length: 12 }, (_, i) => 200 + i);
    const allowlists = Array.from({ length: 6 }, (_, i) => ['127.0.0.0/8', `198.51.100.${i}/32`]);
    const replies = await Promise.all([
      ...horizons.map((horizonDays) => call(stack.url, 'PUT', '/v1/settings/bookings', { token, json: { horizonDays } })),
      ...allowlists.map((cidrs) => call(stack.url, 'PUT', '/v1/settings/network-allowlist', { token, json: { cidrs } })),
      ...[8, 9, 10, 11].map((historyCount) => call(stack.url, 'PUT', '/v1/settings/password-policy', { token, json: { historyCount } })),
    ]);
    expect(replies.map((r) => r.status)).toEqual(Array(22).fill(200));
    const logged = async (action: string) =>
      (await stack.database.ownerDb('audit_events').where({ tenant_id: clinic.id, action, outcome: 'success' }).orderBy('seq')).map((e: { details: { before: unknown; after: unknown } }) => e.details);
    const chained = (entries: Array<{ before: unknown; after: unknown }>, first: unknown) => {
      expect(entries.map((e) => e.before)).toEqual([first, ...entries.slice(0, -1).map((e) => e.after)]);
    };
    const bookings = await logged('settings.bookings');
    expect(bookings).toHaveLength(12);
    chained(bookings, { horizonDays: 365 });
    expect((await call(stack.url, 'GET', '/v1/settings/bookings', { token })).body).toEqual(bookings.at(-1)!.after);
    const allowlist = await logged('settings.network_allowlist');
    expect(allowlist).toHaveLength(6);
    chained(allowlist, []);
    const policies = (await logged('settings.password_policy')).map((e) => ({ before: (e.before as { historyCount: number }).historyCount, after: (e.after as { historyCount: number }).historyCount }));
    expect(policies).toHaveLength(4);
    chained(policies, DEFAULT_PASSWORD_POLICY.historyCount);
  });

  it('answers 400 validation_failed to an invalid password policy and keeps the saved one', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    expect((await call(stack.url, 'PUT', '/v1/settings/password-policy', { token, json: { historyCount: 7 } })).status).toBe(200);
    for (const json of [{ minLength: 4 }, { historyCount: -1 }, { secondFactor: 'sometimes' }, { lockout: { maxFailures: 0 } }, { session: { idleTimeoutSeconds: 7200, absoluteLifetimeSeconds: 3600 } }]) {
      const refused = await call(stack.url, 'PUT', '/v1/settings/password-policy', { token, json });
      expect([JSON.stringify(json), refused.status, refused.body.code]).toEqual([JSON.stringify(json), 400, 'validation_failed']);
    }
    expect((await storedPolicy(clinic.id)).historyCount).toBe(7);
    expect((await call(stack.url, 'GET', '/v1/settings/password-policy', { token })).body.historyCount).toBe(7);
  });

  it('refuses every operation of a clinic whose stored policy became invalid, instead of using a default', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    const settings = () => stack.database.ownerDb('tenant_settings').where({ tenant_id: clinic.id });
    await call(stack.url, 'PUT', '/v1/settings/password-policy', { token, json: {} });
    const valid = await storedPolicy(clinic.id);
    // Edited in the database behind the API's back: 4 characters would never pass validation.
    await settings().update({ password_policy: JSON.stringify({ ...valid, minLength: 4 }) });

    // Everything that consults the policy refuses (a request that does not consult it, such as
    // /v1/me between session touches, has nothing to fall back on a default for).
    const create = await call(stack.url, 'POST', '/v1/accounts', { token, json: { loginId: 'newcomer', email: 'newcomer@example.jp', displayName: 'N', roles: ['staff'] } });
    expect([create.status, create.body.code]).toEqual([503, 'clinic_settings_invalid']);
    expect(create.text).not.toContain('minLength');
    const relogin = await login(stack, clinic, 'admin', STRONG_PASSWORD);
    expect([relogin.status, relogin.body.code]).toEqual([503, 'clinic_settings_invalid']);
    // What the log gets: the clinic, the setting and the rule broken.
    const err = await withTenant(stack.database.db, clinic.id, (trx) => getSettings(trx)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidStoredSettingError);
    expect((err as Error).message).toMatch(new RegExp(`password_policy of clinic ${clinic.id} is invalid.*minLength: must be at least 13`));

    await settings().update({ password_policy: JSON.stringify(valid) });
    expect((await call(stack.url, 'GET', '/v1/me', { token })).status).toBe(200);
  });

  it('refuses a stored allowlist with an entry that is not a network', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    await stack.database.ownerDb('tenant_settings').insert({ tenant_id: clinic.id, network_allowlist: ['203.0.113.7/24'] }).onConflict('tenant_id').merge();
    expect((await call(stack.url, 'GET', '/v1/me', { token })).body.code).toBe('clinic_settings_invalid');
    const err = await withTenant(stack.database.db, clinic.id, (trx) => getSettings(trx)).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/network_allowlist .* invalid.*1 entry is not a canonical CIDR/);
  });
});
