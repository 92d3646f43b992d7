import { displayText, nameText } from '../../domain/fields';

describe('names', () => {
  const name = nameText(100);

  it('keeps ordinary names, normalised and trimmed', () => {
    expect(name.parse('  山田 太郎 ')).toBe('山田 太郎');
    expect(name.parse('Cafe\u0301 🏥')).toBe('Café 🏥');
  });

  it('refuses characters that make a name show something else, never cleaning them', () => {
    for (const bad of ['山田\u0007太郎', '山田\n太郎', 'abc\u202Edcba', 'a\u200Bb', 'a\u2066b', '\uFEFF山田', 'x\u009Bz']) {
      expect([JSON.stringify(bad), name.safeParse(bad).success]).toEqual([JSON.stringify(bad), false]);
    }
  });

  it('refuses an unpaired surrogate anywhere text is stored (PostgreSQL would have kept U+FFFD)', () => {
    expect(name.safeParse('山田\uD800').success).toBe(false);
    expect(displayText(300).safeParse('東京都\uDC00千代田区').success).toBe(false);
    expect(displayText(300).parse('東京都千代田区 🏥')).toBe('東京都千代田区 🏥');
  });
});
