import { clinicWithAdmin, login, STRONG_PASSWORD } from '../harness/clinic';
import { call } from '../harness/http';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * Knocking at unknown doors: logins to login IDs and clinics that do not exist are recorded per
 * source network and minute with a count, for admins (their clinic) and operators (unknown
 * clinics), and the login IDs are kept only as keyed hashes — a "login ID" is sometimes a
 * password typed into the wrong field.
 */
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ TRUSTED_PROXIES: '127.0.0.1/32,::1/128', LOGIN_FAILURES_PER_IP: '100' });
});
afterAll(async () => {
  await stack?.stop();
});

const from = (ip: string) => ({ 'x-forwarded-for': ip });
/** What staff type into the login ID field by mistake. */
const TYPED_BY_MISTAKE = ['sakura-2026-clinic!', 'tanaka.hanako', 'nurse.suzuki'];

interface Probe {
  minute: string;
  clientNet: string;
  attempts: number;
  loginIdHashes: string[];
}
const sum = (probes: Probe[]) => probes.reduce((n, p) => n + p.attempts, 0);

describe('probe records', () => {
  it('aggregates unknown login IDs per network and minute, with keyed hashes instead of the IDs', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    // Two addresses of one IPv6 /64 are one source.
    const sources = ['2001:db8:5:6::1', '2001:db8:5:6::2', '2001:db8:5:6::1'];
    for (const [i, loginId] of TYPED_BY_MISTAKE.entries()) expect((await login(stack, clinic, loginId, 'guess', from(sources[i]!))).status).toBe(401);
    expect((await login(stack, clinic, 'admin', 'wrong', from('2001:db8:5:6::1'))).status).toBe(401); // an existing account: not a probe

    const page = await call(stack.url, 'GET', '/v1/login-probes', { token });
    expect(page.status).toBe(200);
    const probes = page.body.items as Probe[];
    // One row per minute (the attempts may straddle a minute boundary), all from the /64.
    expect(probes.length).toBeGreaterThanOrEqual(1);
    expect(probes.length).toBeLessThanOrEqual(2);
    expect(sum(probes)).toBe(3);
    for (const p of probes) {
      expect(p.clientNet).toBe('2001:db8:5:6::/64');
      expect(p.minute).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00Z$/);
    }
    const hashes = probes.flatMap((p) => p.loginIdHashes);
    expect(new Set(hashes).size).toBe(3);

    // The operation log has one entry per network and minute, with the hash; no login ID in clear anywhere.
    const log = await stack.database.ownerDb('audit_events').where({ tenant_id: clinic.id, action: 'login.probe' });
    expect(log).toHaveLength(probes.length);
    expect(hashes).toEqual(expect.arrayContaining(log.map((e: { details: { loginIdHash: string } }) => e.details.loginIdHash)));
    const everything = JSON.stringify([await stack.database.ownerDb('audit_events').where({ tenant_id: clinic.id }), await stack.database.ownerDb('login_probes'), await stack.database.ownerDb('login_failures'), await stack.database.ownerDb('rate_limits')]);
    for (const typed of TYPED_BY_MISTAKE) expect(everything).not.toContain(typed);
  });

  it('records logins to clinics that do not exist for operators only', async () => {
    const { token } = await clinicWithAdmin(stack);
    const nowhere = { id: '', slug: 'no-such-clinic-probe' };
    for (let i = 0; i < 4; i += 1) expect((await login(stack, nowhere, 'admin', STRONG_PASSWORD, from('192.0.2.77'))).status).toBe(401);

    const operator = await call(stack.operatorUrl, 'GET', '/v1/operator/login-probes', { token: stack.operatorToken });
    expect(operator.status).toBe(200);
    const mine = (operator.body.items as Probe[]).filter((p) => p.clientNet === '192.0.2.77');
    expect(sum(mine)).toBe(4);
    expect(new Set(mine.flatMap((p) => p.loginIdHashes)).size).toBe(1);
    // A clinic's admin sees only their own clinic's records.
    const clinicView = await call(stack.url, 'GET', '/v1/login-probes', { token });
    expect((clinicView.body.items as Probe[]).filter((p) => p.clientNet === '192.0.2.77')).toEqual([]);
    expect((await call(stack.operatorUrl, 'GET', '/v1/operator/login-probes', { token })).status).toBe(401);
  });

  it('pages newest first and refuses malformed cursors and windows', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    for (let i = 1; i <= 3; i += 1) await login(stack, clinic, 'nobody', 'x', from(`192.0.2.${100 + i}`));
    const first = await call(stack.url, 'GET', '/v1/login-probes?limit=2', { token });
    expect(first.body.items).toHaveLength(2);
    const second = await call(stack.url, 'GET', `/v1/login-probes?limit=2&cursor=${first.body.nextCursor}`, { token });
    expect([...first.body.items, ...second.body.items].map((p: Probe) => p.clientNet).sort()).toEqual(['192.0.2.101', '192.0.2.102', '192.0.2.103']);
    expect(second.body.nextCursor).toBeNull();
    expect((await call(stack.url, 'GET', '/v1/login-probes?cursor=bogus', { token })).body.code).toBe('invalid_cursor');
    expect((await call(stack.url, 'GET', '/v1/login-probes?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z', { token })).body.code).toBe('range_too_large');
  });
});
