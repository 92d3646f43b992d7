import { loginIdSchema } from '../../domain/account';
import { isLocked } from '../../domain/lockout';
import { canonicalCidr, clientIp, ipInCidrs } from '../../domain/network';
import { DEFAULT_PASSWORD_POLICY, generateInitialPassword, passwordPolicySchema, unmetPasswordRules } from '../../domain/password-policy';

describe('lockout', () => {
  it('is locked only until its end', () => {
    const t0 = new Date('2026-01-01T00:00:00Z');
    expect(isLocked({ lockedUntil: new Date(t0.getTime() + 1) }, t0)).toBe(true);
    expect(isLocked({ lockedUntil: t0 }, t0)).toBe(false);
    expect(isLocked({ lockedUntil: null }, t0)).toBe(false);
  });
});

describe('network rules', () => {
  it('accepts only network addresses in CIDR form', () => {
    expect(canonicalCidr('2001:DB8::/32')).toBe('2001:db8::/32');
    expect(canonicalCidr('203.0.113.0/24')).toBe('203.0.113.0/24');
    for (const bad of ['203.0.113.1/24', '1.2.3.4', '1.2.3.0/33', '::/129', 'a/8', '']) expect([bad, canonicalCidr(bad)]).toEqual([bad, undefined]);
    // inet_aton's forms are refused, not read: 010.0.0.0 is octal there (8.0.0.0), 127.1 is 127.0.0.1.
    for (const bad of ['010.0.0.0/8', '0127.0.0.1/32', '127.1/32', '10.0.0.0/08', '0x7f.0.0.1/32', '10.0.0/24', '256.0.0.0/8', '::ffff:010.0.0.0/104', '::/064']) {
      expect([bad, canonicalCidr(bad)]).toEqual([bad, undefined]);
    }
    expect(canonicalCidr('0.0.0.0/0')).toBe('0.0.0.0/0');
    expect(canonicalCidr('10.0.0.0/8')).toBe('10.0.0.0/8');
    // An IPv4-mapped entry is IPv4 (clients arrive as IPv4; as IPv6 it matched no one).
    expect(canonicalCidr('::ffff:10.0.0.0/104')).toBe('10.0.0.0/8');
    expect(canonicalCidr('::ffff:127.0.0.1/128')).toBe('127.0.0.1/32');
    expect(canonicalCidr('::ffff:0:0/95')).toBeUndefined();
    // A dotted tail outside the mapped prefix is the deprecated IPv4-compatible form (::10.0.0.0 is
    // the IPv6 address ::a00:0), not an IPv4 range: refused, never read as 0.0.0.0/0 or 10.0.0.0/8.
    for (const bad of ['::0.0.0.0/96', '::10.0.0.0/104', '::1:10.0.0.0/104', '64:ff9b::10.0.0.0/104']) expect([bad, canonicalCidr(bad)]).toEqual([bad, undefined]);
    expect(canonicalCidr('0:0:0:0:0:ffff:10.0.0.0/104')).toBe('10.0.0.0/8');
    expect(canonicalCidr('::a00:0/104')).toBe('::a00:0/104');
    expect(ipInCidrs('::10.0.0.1', ['10.0.0.0/8'])).toBe(false);
    expect(ipInCidrs('127.0.0.1', [canonicalCidr('::ffff:127.0.0.1/128')!])).toBe(true);
  });
  it('matches v4, v6 and v4-mapped v6 addresses', () => {
    expect(ipInCidrs('203.0.113.9', ['203.0.113.0/24'])).toBe(true);
    expect(ipInCidrs('::ffff:203.0.113.9', ['203.0.113.0/24'])).toBe(true);
    expect(ipInCidrs('2001:db8::5', ['203.0.113.0/24', '2001:db8::/32'])).toBe(true);
    expect(ipInCidrs('198.51.100.1', ['203.0.113.0/24'])).toBe(false);
    expect(ipInCidrs('garbage', ['0.0.0.0/0'])).toBe(false);
  });
  it('believes X-Forwarded-For only from trusted proxies, and only its right-most untrusted hop', () => {
    const trusted = ['10.0.0.0/8'];
    expect(clientIp('203.0.113.5', '198.51.100.1', trusted)).toBe('203.0.113.5');
    expect(clientIp('10.0.0.2', '198.51.100.1', trusted)).toBe('198.51.100.1');
    expect(clientIp('10.0.0.2', '6.6.6.6, 198.51.100.1, 10.0.0.9', trusted)).toBe('198.51.100.1');
    expect(clientIp('::ffff:10.0.0.2', '198.51.100.1', trusted)).toBe('198.51.100.1');
    expect(clientIp('10.0.0.2', 'not-an-ip', trusted)).toBe('10.0.0.2');
    expect(clientIp('10.0.0.2', '0127.0.0.1', trusted)).toBe('10.0.0.2');
    expect(ipInCidrs('010.0.0.1', ['8.0.0.0/8'])).toBe(false);
  });
  it('drops an IPv6 zone (a link-local peer\'s interface), which PostgreSQL\'s inet refuses', () => {
    expect(clientIp('fe80::1%eth0', undefined, [])).toBe('fe80::1');
    expect(clientIp('10.0.0.2', 'fe80::1%eth0', ['10.0.0.0/8'])).toBe('fe80::1');
    expect(clientIp('10.0.0.2', '2001:db8::7%0', ['10.0.0.0/8'])).toBe('2001:db8::7');
    expect(clientIp('10.0.0.2', '203.0.113.5%eth0', ['10.0.0.0/8'])).toBe('10.0.0.2');
    expect(ipInCidrs('fe80::1%eth0', ['fe80::/10'])).toBe(true);
    expect(canonicalCidr('fe80::%eth0/10')).toBeUndefined();
  });
});

describe('password rules', () => {
  it('lists each unmet rule', () => {
    expect(unmetPasswordRules('yamada', DEFAULT_PASSWORD_POLICY, 'yamada').map((u) => u.rule)).toEqual(['min_length', 'digits', 'symbols', 'contains_login_id']);
    expect(unmetPasswordRules('Tokyo-Clinic-2026', DEFAULT_PASSWORD_POLICY, 'yamada')).toEqual([]);
    expect(unmetPasswordRules('ＹＡＭＡＤＡ-pass-2026!', DEFAULT_PASSWORD_POLICY, 'yamada').map((u) => u.rule)).toEqual(['contains_login_id']);
  });
  it('generates initial passwords that satisfy the policy', () => {
    for (let i = 0; i < 200; i += 1) {
      const p = generateInitialPassword(DEFAULT_PASSWORD_POLICY);
      expect(unmetPasswordRules(p, DEFAULT_PASSWORD_POLICY, 'someone')).toEqual([]);
    }
  });
  it('allows 8 characters only with two-step verification for everyone', () => {
    expect(passwordPolicySchema.safeParse({ minLength: 8 }).success).toBe(false);
    expect(passwordPolicySchema.safeParse({ minLength: 8, secondFactor: 'admins' }).success).toBe(false);
    expect(passwordPolicySchema.safeParse({ minLength: 8, secondFactor: 'everyone' }).success).toBe(true);
  });
});

describe('login IDs', () => {
  it('folds full-width forms and refuses other scripts', () => {
    expect(loginIdSchema.parse('Ｙａｍａｄａ.Ｔ')).toBe('yamada.t');
    expect(loginIdSchema.safeParse('yаmada').success).toBe(false); // Cyrillic а
    expect(loginIdSchema.safeParse('山田').success).toBe(false);
  });
});
