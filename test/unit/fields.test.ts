import { createPatientSchema } from '../../domain/patient';
import { displayText, emailAddress, nameText } from '../../domain/fields';

describe('names', () => {
  const name = nameText(100);

  it('keeps ordinary names, normalised and trimmed', () => {
    expect(name.parse('  山田 太郎 ')).toBe('山田 太郎');
    expect(name.parse('Cafe\u0301 🏥')).toBe('Café 🏥');
  });

  it('refuses characters that make a name show something else, never cleaning them', () => {
    for (const bad of ['山田\u0007太郎', '山田\n太郎', 'abc\u202Edcba', 'a\u200Bb', 'a\u2066b', '\uFEFF山田', 'x\u009Bz', 'a\u2060b', 'a\u00ADb', 'a\u3164b', 'a\u{E0041}b', '山田\u2028']) {
      expect([JSON.stringify(bad), name.safeParse(bad).success]).toEqual([JSON.stringify(bad), false]);
    }
  });

  it('refuses every other invisible character an attack run found accepted: format characters, fillers, selectors, blanks, noncharacters', () => {
    const bad = ['Doctors\u206a', '\uffa0', '\u2800\u2800', '\u1160', 'Doc\u034ftors', 'Doctors\ufe0f', '\u115fA', 'a\u17b4b', 'a\u180bb', 'a\u206fb', 'a\ufff9b', 'a\u{1d173}b', 'a\u{13430}b', 'a\u{1bca0}b', 'a\uffffb', 'a\ufdd0b', 'Admin\uFFA0', '山田\u206a 太郎', '\ufe0f山田', '山田\ufe0f 太郎', '1\ufe0f', 'A\ufe0f\u20e3'];
    for (const b of bad) expect([JSON.stringify(b), name.safeParse(b).success]).toEqual([JSON.stringify(b), false]);
  });

  it('keeps a variation selector after a kanji (the 異体字 of a registered name), a pictograph or on a keycap', () => {
    for (const good of ['葛\u{e0100}飾', '辻\u{e0101}', '𠮷\u{e0100}野', '邉\ufe00', 'Clinic ❤\ufe0f', '🏥\ufe0f 東京', 'Room 1\ufe0f\u20e3', '#\ufe0f\u20e3 desk']) {
      expect([JSON.stringify(good), name.safeParse(good).success]).toEqual([JSON.stringify(good), true]);
    }
  });

  it('refuses an unpaired surrogate anywhere text is stored (PostgreSQL would have kept U+FFFD)', () => {
    expect(name.safeParse('山田\uD800').success).toBe(false);
    expect(displayText(300).safeParse('東京都\uDC00千代田区').success).toBe(false);
    expect(displayText(300).parse('東京都千代田区 🏥')).toBe('東京都千代田区 🏥');
  });
});

describe('a patient\'s kana', () => {
  const kanaOf = (kana: string) => createPatientSchema.safeParse({ name: '山田 太郎', kana, birthDate: '1980-04-01' });
  it('takes kana with spaces, and refuses tabs, line breaks and invisible characters rather than keep or trim them', () => {
    expect(kanaOf('ヤマダ タロウ').success).toBe(true);
    expect(kanaOf('ヤマダ　タロウ').success).toBe(true);
    for (const bad of ['ヤマ\tダ', 'ヤマ\nダ', 'ヤマ\uFEFFダ', '\tヤマダ', 'ヤマダ\u2028']) expect([JSON.stringify(bad), kanaOf(bad).success]).toEqual([JSON.stringify(bad), false]);
  });
});

describe('e-mail addresses', () => {
  it('refuses an address no mail can reach, as the mailer would (a contract address like that failed provisioning)', () => {
    for (const bad of ['a@b-.jp', `${'x'.repeat(65)}@clinic.example`, `a@${'l'.repeat(64)}.example`, 'a@-b.jp', 'a@localhost']) {
      expect([bad, emailAddress.safeParse(bad).success]).toEqual([bad, false]);
    }
    expect(emailAddress.safeParse('not-an-email').error?.issues).toHaveLength(1);
    expect(emailAddress.parse(' Info@Sakura-Clinic.example ')).toBe('info@sakura-clinic.example');
    expect(emailAddress.parse(`${'x'.repeat(64)}@${'l'.repeat(63)}.example`)).toBe(`${'x'.repeat(64)}@${'l'.repeat(63)}.example`);
  });
});
