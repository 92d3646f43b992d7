import { canChangeStatus, createTenantSchema } from '../../domain/tenant';

describe('clinic rules', () => {
  it('lets operators suspend and resume, but never skip provisioning', () => {
    expect(canChangeStatus('active', 'suspended')).toBe(true);
    expect(canChangeStatus('suspended', 'active')).toBe(true);
    expect(canChangeStatus('provisioning', 'active')).toBe(false);
    expect(canChangeStatus('provisioning', 'suspended')).toBe(false);
    expect(canChangeStatus('active', 'active')).toBe(true);
  });

  it('normalises names (NFC, trimmed) and contract addresses (lower case, deduplicated)', () => {
    const parsed = createTenantSchema.parse({
      slug: 'mori-clinic',
      name: '  ﾓﾘ\u30AB\u3099クリニック ',
      contractEmails: ['A@Mori.example', 'a@mori.example', 'b@mori.example'],
    });
    expect(parsed.name).toBe('ﾓﾘ\u30ACクリニック');
    expect(parsed.contractEmails).toEqual(['a@mori.example', 'b@mori.example']);
  });

  it.each(['ab', '-abc', 'abc-', 'a--b', 'ABC', 'api', 'a'.repeat(64), 'ｓａｋｕｒａ', "x'; drop table tenants;--"])(
    'rejects slug %p',
    (slug) => {
      expect(createTenantSchema.safeParse({ slug, name: 'n', contractEmails: ['a@b.example'] }).success).toBe(false);
    },
  );
});
