import { breakGlassEnabled, loadConfig } from '../../lib/config';

/** Operators' settings (README: Operators, Configuration): break-glass policy, sessions, relying party. */
const base = { DATABASE_URL: 'postgres://u@localhost/db' };
const production = { ...base, NODE_ENV: 'production', VIDEO_TOKEN_SECRET: 's'.repeat(32), LOGIN_ID_HMAC_KEY: 'k'.repeat(32) };

describe('break-glass (OPERATOR_TOKEN)', () => {
  it('is on outside production and needs the token there', () => {
    expect(breakGlassEnabled(loadConfig({ ...base, OPERATOR_TOKEN: 'a'.repeat(32) }))).toBe(true);
    expect(() => loadConfig(base)).toThrow(/OPERATOR_TOKEN: is required outside production unless OPERATOR_BREAK_GLASS=disabled/);
    expect(breakGlassEnabled(loadConfig({ ...base, OPERATOR_BREAK_GLASS: 'disabled' }))).toBe(false);
  });

  it('is off in production unless enabled explicitly, even with a token set', () => {
    expect(breakGlassEnabled(loadConfig(production))).toBe(false);
    expect(breakGlassEnabled(loadConfig({ ...production, OPERATOR_TOKEN: 'a'.repeat(32) }))).toBe(false);
  });

  it('when enabled in production, needs the token and someone to tell', () => {
    const enabled = { ...production, OPERATOR_BREAK_GLASS: 'enabled' };
    expect(() => loadConfig(enabled)).toThrow(/OPERATOR_TOKEN: is required when OPERATOR_BREAK_GLASS=enabled/);
    expect(() => loadConfig({ ...enabled, OPERATOR_TOKEN: 'a'.repeat(32) })).toThrow(/SECURITY_EMAILS: is required when OPERATOR_BREAK_GLASS=enabled in production/);
    expect(breakGlassEnabled(loadConfig({ ...enabled, OPERATOR_TOKEN: 'a'.repeat(32), SECURITY_EMAILS: 'sec@forclinic.example' }))).toBe(true);
    expect(() => loadConfig({ ...base, OPERATOR_BREAK_GLASS: 'sometimes' })).toThrow(/OPERATOR_BREAK_GLASS/);
  });

  it('is the API\'s alone: the worker neither needs the token nor keeps one it is given', () => {
    const enabled = { ...production, OPERATOR_BREAK_GLASS: 'enabled', SECURITY_EMAILS: 'sec@forclinic.example' };
    expect(loadConfig(enabled, 'worker').OPERATOR_TOKEN).toBeUndefined();
    expect(loadConfig(base, 'worker').OPERATOR_TOKEN).toBeUndefined();
    expect(loadConfig({ ...base, OPERATOR_TOKEN: 'a'.repeat(32) }, 'worker').OPERATOR_TOKEN).toBeUndefined();
    // Everything else is checked for the worker as for the API.
    expect(() => loadConfig({ ...base, OPERATOR_BREAK_GLASS: 'sometimes' }, 'worker')).toThrow(/OPERATOR_BREAK_GLASS/);
  });
});

describe('operator sessions and passkeys', () => {
  const ok = { ...base, OPERATOR_TOKEN: 'a'.repeat(32) };
  it('defaults to 30 minutes idle, 8 hours absolute, the clinics\' relying party', () => {
    const c = loadConfig(ok);
    expect([c.OPERATOR_SESSION_IDLE_SECONDS, c.OPERATOR_SESSION_MAX_SECONDS]).toEqual([1800, 28800]);
    expect([c.OPERATOR_WEBAUTHN_RP_ID, c.OPERATOR_WEBAUTHN_ORIGINS]).toEqual([undefined, undefined]);
  });
  it('refuses an absolute lifetime shorter than the idle timeout, and origins off the relying party', () => {
    expect(() => loadConfig({ ...ok, OPERATOR_SESSION_IDLE_SECONDS: '3600', OPERATOR_SESSION_MAX_SECONDS: '600' })).toThrow(/OPERATOR_SESSION_MAX_SECONDS: must be at least OPERATOR_SESSION_IDLE_SECONDS/);
    expect(() => loadConfig({ ...ok, OPERATOR_WEBAUTHN_RP_ID: 'ops.example.jp', OPERATOR_WEBAUTHN_ORIGINS: 'https://evil.example' })).toThrow(/OPERATOR_WEBAUTHN_ORIGINS: "https:\/\/evil.example" is not on OPERATOR_WEBAUTHN_RP_ID/);
    expect(() => loadConfig({ ...ok, SECURITY_EMAILS: 'not-an-address' })).toThrow(/SECURITY_EMAILS/);
  });
});
