import { userAgentOf } from '../../api/user-agent';

const ctx = (value: string) => ({ get: (name: string) => (name === 'User-Agent' ? value : '') });
// What Node hands over for these bytes: each byte as one Latin-1 character.
const asNodeGivesIt = (utf8: string) => Buffer.from(utf8, 'utf8').toString('latin1');

describe('the stored User-Agent', () => {
  it('reads UTF-8 sent by a client as UTF-8, not as Latin-1 mojibake', () => {
    expect(userAgentOf(ctx(asNodeGivesIt('受付タブレット/1.0 (iPad)')))).toBe('受付タブレット/1.0 (iPad)');
    expect(userAgentOf(ctx('Mozilla/5.0 (X11; Linux x86_64)'))).toBe('Mozilla/5.0 (X11; Linux x86_64)');
  });

  it('keeps Latin-1 that is not UTF-8, replaces control characters, bounds the length', () => {
    expect(userAgentOf(ctx('caf\u00e9'))).toBe('caf\u00e9');
    expect(userAgentOf(ctx(`a${asNodeGivesIt('\u009d')}b\u0007c`))).toBe('a\uFFFDb\uFFFDc');
    expect(userAgentOf(ctx('x'.repeat(2000)))!.length).toBe(512);
    expect(userAgentOf(ctx(''))).toBeUndefined();
  });
});
