import { judgeAudit } from '../../scripts/deps-check';

const report = {
  vulnerabilities: {
    jose: { severity: 'high', via: [{ url: 'https://github.com/advisories/GHSA-aaaa-bbbb-cccc', title: 'JWE decompression', severity: 'high' }] },
    koa: { severity: 'moderate', via: [{ url: 'https://github.com/advisories/GHSA-mmmm', severity: 'moderate' }] },
    knex: { severity: 'critical', via: ['pg', { url: 'https://github.com/advisories/GHSA-kkkk', severity: 'critical' }] },
  },
};

it('blocks high and critical advisories, not moderate ones', () => {
  const v = judgeAudit(report, [], '2026-12-03');
  expect(v.blocking).toHaveLength(2);
  expect(v.blocking[0]).toMatch(/^jose: high .*GHSA-aaaa-bbbb-cccc/);
  expect(v.blocking[1]).toMatch(/^knex: critical .*GHSA-kkkk/);
  expect(v.blocking.join()).not.toContain('koa');
});

it('lets a dated allowlist entry through until its day, then fails on the entry itself', () => {
  const allow = [{ advisory: 'GHSA-aaaa-bbbb-cccc', package: 'jose', reason: 'only JWS is used', until: '2026-12-31' }];
  const during = judgeAudit(report, allow, '2026-12-31');
  expect(during.allowed).toHaveLength(1);
  expect(during.blocking).toHaveLength(1);
  const after = judgeAudit(report, allow, '2027-01-01');
  expect(after.allowed).toHaveLength(0);
  expect(after.blocking).toHaveLength(2);
  expect(after.expiredAllowances).toEqual(['jose GHSA-aaaa-bbbb-cccc (allowed until 2026-12-31)']);
});
